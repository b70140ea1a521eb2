"""Only the wheel's tag lives here (everything else is in pyproject.toml).

The package is pure Python plus a native library it loads with ctypes, so
its wheel is for one platform (the library is) but any Python 3:
py3-none-linux_x86_64, installed into platlib like any binary package.
"""

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:  # the bundled libOfframpC.so
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):  # type: ignore[no-untyped-def]
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(distclass=BinaryDistribution, cmdclass={"bdist_wheel": PlatformWheel})
