#ifndef OFFRAMP_CFILESYSTEM_H
#define OFFRAMP_CFILESYSTEM_H

/// Swaps the two paths in one step (Linux renameat2 with RENAME_EXCHANGE):
/// whoever looks sees either both old or both new, never one missing. Both
/// must exist on one file system. 0 on success, else -1 with errno set
/// (EINVAL or ENOSYS where the file system or kernel cannot exchange).
/// Glibc declares renameat2 only under _GNU_SOURCE, which Swift's Glibc
/// module does not define: hence this shim.
int offramp_exchange_paths(const char *a, const char *b);

/// Renames `from` to `to` only if `to` does not exist (renameat2 with
/// RENAME_NOREPLACE): 0 on success, else -1 with errno set (EEXIST when `to`
/// exists; EINVAL or ENOSYS where the file system cannot).
int offramp_rename_new(const char *from, const char *to);

#endif
