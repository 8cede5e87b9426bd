"""Options of a group whose service calls doctor's API through keystoneauth.

``[monitor]``, ``[consumer]`` and ``[compute_agent]`` each hold their own
options beside keystoneauth's session options (with a finite HTTP timeout)
and its password plugin's options. Each ConfigOpts gets a group object of
its own: keystoneauth registers the auth plugin's options on the group it
loads the plugin from, and a group shared between ConfigOpts (tests, or
several services in one process) would carry them to all.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

# Seconds a call to doctor's API may take before it counts as failed.
HTTP_TIMEOUT = 10


def session_opts() -> list[cfg.Opt]:
    """keystoneauth's session options, with a finite HTTP timeout."""
    opts = ks_loading.get_session_conf_options()
    for opt in opts:
        if opt.dest == 'timeout':
            opt.default = HTTP_TIMEOUT
    return opts


def register_opts(conf: cfg.ConfigOpts, group: cfg.OptGroup,
                  opts: list[cfg.Opt]) -> None:
    """Register ``opts`` and keystoneauth's on a copy of ``group``."""
    own = cfg.OptGroup(group.name, title=group.title, help=group.help)
    conf.register_group(own)
    conf.register_opts(opts, group=own)
    conf.register_opts(session_opts(), group=own)
    ks_loading.register_auth_conf_options(conf, own.name)


def list_opts(group: cfg.OptGroup, opts: list[cfg.Opt]) -> list:
    """``opts`` with keystoneauth's, as the sample config lists them."""
    return [(group, opts + session_opts()
             + ks_loading.get_auth_common_conf_options()
             + ks_loading.get_auth_plugin_conf_options('password'))]
