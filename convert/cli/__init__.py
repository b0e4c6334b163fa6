"""The workstation subcommands, each a module with add_arguments(parser) and main(args):
convert.py, eval.py, synth.py, train.py, demo.py. device/cli.py imports them by name only
when one is asked for, so a device-only install answers with one line naming the extra.
May import anything in convert/ and device/; nothing imports cli/.
"""
