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
