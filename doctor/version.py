"""Version of the doctor package, as pbr computes it."""

import pbr.version

version_info = pbr.version.VersionInfo('doctor')
