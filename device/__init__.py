"""pisight.device: the Raspberry Pi half, everything `pip install 'pisight[device]'` brings.
The `pisight` console script (cli.py), the model on the device (model/), frame sources
(sources/), the threaded runtime behind `pisight run` (pipeline/), drawing and output files
(render/), the HTTP live view (live/) and the deploy/flash commands (fleet/). It never
imports TensorFlow or pisight.convert (tests/test_imports.py and
tests/device/test_without_tensorflow.py check); workstation subcommands are reached by
module name at run time.
See docs/ARCHITECTURE.md, "The house".
"""
