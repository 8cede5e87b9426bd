"""Sphinx configuration of doctor's REST API reference."""

project = 'doctor API reference'
copyright = 'OpenStack Foundation'
author = 'OpenStack'

extensions = [
    'os_api_ref',
]

source_suffix = '.rst'
root_doc = 'index'
exclude_patterns = []
pygments_style = 'native'

html_theme = 'alabaster'
html_title = 'doctor API reference'
html_static_path = []


def _no_path_parameters(app, env, docnames):
    # os-api-ref learns the path parameters of a method from its
    # rest_method; the tables of the introduction come before any.
    env.path_params = []


def setup(app):
    app.connect('env-before-read-docs', _no_path_parameters)
