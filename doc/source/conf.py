"""Sphinx configuration of doctor's documentation."""

project = 'doctor'
copyright = 'OpenStack Foundation'
author = 'OpenStack'

extensions = [
    'sphinx.ext.autodoc',
    'oslo_config.sphinxext',
    'oslo_policy.sphinxext',
]

source_suffix = '.rst'
root_doc = 'index'
exclude_patterns = []
pygments_style = 'native'

html_theme = 'alabaster'
html_title = 'doctor documentation'
html_static_path = []
