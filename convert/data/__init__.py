"""Data for training, calibration and evaluation: VOC, COCO and YOLO datasets auto-detected
and checked (datasets.py, formats.py, yolo.py, images.py), the deterministic synthetic
shapes dataset and video (synth*.py), and calibration frames prepared exactly as the device
prepares them (calibration.py). May import device.model and device.sources; imports no
TensorFlow today, keep it that way where you can.
"""
