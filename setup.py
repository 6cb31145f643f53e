"""Package list for setuptools; everything else is declared in pyproject.toml.

The top-level ``dashboards/`` folder ships inside the package as ``deepseek_apps.dashboards``
so that an installed ``deepseek-apps dashboard`` finds its pages. pyproject.toml cannot
combine that ``package-dir`` mapping with package discovery, hence this file.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["deepseek_apps", "deepseek_apps.*"], exclude=["*.__pycache__"]),
        "deepseek_apps.dashboards",
        "deepseek_apps.dashboards.pages",
    ],
    package_dir={"deepseek_apps.dashboards": "dashboards"},
)
