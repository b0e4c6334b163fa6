"""What a conversion leaves behind: pisight.json and report.md (packaging.py), the atomic
bundle write (bundle_writer.py), COCO-style mAP through the device Detector (evaluate.py),
the per-variant size/latency/mAP table and plot (variants.py), and the demo's report
(demo_report.py). May import convert.tf, convert.conversion, convert.data, convert.ssd and
device.model.
"""
