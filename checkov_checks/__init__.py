"""The project's own checkov checks for ARM templates (see gate/checkov.py).

checkov imports every module of this folder (it needs this __init__.py to do so) from its own
virtual environment, .venv-checkov: these modules import checkov, never the project.
Ids are CKV_CONTINUITY_<n>; module names are prefixed `continuity_` because checkov registers each
module under its bare file name.
"""
