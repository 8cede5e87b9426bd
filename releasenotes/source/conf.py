"""Sphinx configuration of doctor's release notes."""

project = 'doctor release notes'
copyright = 'OpenStack Foundation'
author = 'OpenStack'

extensions = [
    'reno.sphinxext',
]

source_suffix = '.rst'
root_doc = 'index'
exclude_patterns = []
pygments_style = 'native'

html_theme = 'alabaster'
html_title = 'doctor release notes'
html_static_path = []
