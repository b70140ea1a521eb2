/* The C ABI of libOfframpC.so (Sources/OfframpC/*.swift), for C callers and
 * the Python package's ctypes declarations (python/offramp/_native.py).
 *
 * Every call that can fail returns a status (OFFRAMP_OK on success) and
 * writes a NUL-terminated UTF-8 message into the caller's `message` buffer
 * of `capacity` bytes (cut at a character boundary when longer): no shared
 * "last error", so calls from several threads never see each other's.
 * Outputs are caller-owned buffers. Handles are opaque; calls on one handle
 * are serialized by a lock inside it, calls on different handles run in
 * parallel. Texts are UTF-8 with byte lengths (they may hold NUL).
 * `first_index` offsets the 1-based positions messages name ("text 33 is
 * empty"), for a caller sending a long list in chunks. */
#ifndef OFFRAMP_H
#define OFFRAMP_H
#include <stddef.h>
#include <stdint.h>

enum {
    OFFRAMP_OK = 0,
    OFFRAMP_INVALID = 1,          /* bad input: blank text, unknown policy, setting out of range */
    OFFRAMP_NOT_FOUND = 2,        /* the model directory does not exist */
    OFFRAMP_BAD_HANDLE = 3,       /* null handle, or one of another kind */
    OFFRAMP_BUFFER_TOO_SMALL = 4, /* an output buffer smaller than the call needs */
    OFFRAMP_FAILED = 5,           /* anything else */
};

/* An integer policy setting not given (threshold: NaN). */
#define OFFRAMP_NO_SETTING INT64_MIN

int32_t offramp_abi_version(void); /* 1 */

/* The model as JSON ({"kind", "labels", "layers", "policy", "hidden_size", ...}),
 * written when capacity > the returned byte count; -1 for a null handle. */
ptrdiff_t offramp_handle_info(void *handle, char *buffer, ptrdiff_t capacity);
void offramp_handle_free(void *handle);

/* precision: NULL (a quantized checkpoint's saved one, else fp32), "fp32", "bf16", "int8". */
int32_t offramp_encoder_load(const char *path, const char *precision, void **out, char *message, ptrdiff_t capacity);
int32_t offramp_classifier_load(const char *path, const char *precision, void **out, char *message, ptrdiff_t capacity);
int32_t offramp_tagger_load(const char *path, const char *precision, void **out, char *message, ptrdiff_t capacity);

/* out: count x hidden_size floats, row-major. pooling: "mean" or "cls". */
int32_t offramp_encoder_embed(void *handle, const char *const *texts, const ptrdiff_t *lengths, ptrdiff_t count,
                              ptrdiff_t first_index, const char *pooling, int32_t normalize, ptrdiff_t batch_size,
                              float *out, ptrdiff_t out_capacity, char *message, ptrdiff_t capacity);

/* pairs: NULL, or count second texts (sentence pairs). policy: NULL for the model's calibrated one.
 * labels, exit_layers: count; probabilities: count x labels (probabilities_capacity floats). */
int32_t offramp_classifier_predict(void *handle, const char *const *texts, const ptrdiff_t *lengths,
                                   const char *const *pairs, const ptrdiff_t *pair_lengths, ptrdiff_t count,
                                   ptrdiff_t first_index, const char *policy, double threshold, int64_t patience,
                                   int64_t layer, ptrdiff_t batch_size, int32_t *labels, float *probabilities,
                                   ptrdiff_t probabilities_capacity, int32_t *exit_layers, char *message, ptrdiff_t capacity);

/* words: word_count words, sentence_lengths[i] of them per sentence. Per word: label index
 * (-1: cut off by the maximum length), its probability, the 1-based halting layer (0: unlabeled). */
int32_t offramp_tagger_tag(void *handle, const char *const *words, const ptrdiff_t *lengths, ptrdiff_t word_count,
                           const ptrdiff_t *sentence_lengths, ptrdiff_t sentence_count, ptrdiff_t first_index,
                           const char *policy, double threshold, int64_t window, int64_t layer, ptrdiff_t batch_size,
                           int32_t *labels, float *probabilities, int32_t *exit_layers, char *message, ptrdiff_t capacity);
#endif
