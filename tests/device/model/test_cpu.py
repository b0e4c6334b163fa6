"""The CPU a latency figure names: read from /proc/cpuinfo on x86 and on a Pi."""

from __future__ import annotations

from pisight.device.model.cpu import CpuInfo, measured_on, parse_cpuinfo, this_cpu

XEON = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 106
model name\t: Intel(R) Xeon(R) Processor @ 2.80GHz
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni
"""
# A Raspberry Pi 5 on a 64-bit kernel: no model name, the board on the Model line.
PI5 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimddp
CPU implementer\t: 0x41
CPU part\t: 0xd0b

Revision\t: d04170
Model\t\t: Raspberry Pi 5 Model B Rev 1.0
"""


def test_x86_names_the_model_not_its_number_and_reads_avx() -> None:
    name, flags = parse_cpuinfo(XEON)
    assert name == "Intel(R) Xeon(R) Processor @ 2.80GHz"
    assert {"avx2", "avx512f", "avx512_vnni"} <= flags and "asimd" not in flags


def test_a_pi_names_its_board_and_its_dot_product() -> None:
    name, flags = parse_cpuinfo(PI5)
    assert name == "Raspberry Pi 5 Model B Rev 1.0"
    assert {"asimd", "asimddp"} <= flags and "i8mm" not in flags


def test_a_workstation_figure_says_it_is_not_the_pis() -> None:
    xeon = CpuInfo("Intel(R) Xeon(R) Processor @ 2.80GHz", "x86_64", 2, ("avx2", "avx512_vnni"))
    assert (
        xeon.describe() == "Intel(R) Xeon(R) Processor @ 2.80GHz, 2 cores, x86_64, AVX2 AVX512_VNNI"
    )
    assert "not a Raspberry Pi" in measured_on(xeon)
    pi = CpuInfo("Raspberry Pi 5 Model B Rev 1.0", "aarch64", 4, ("asimd", "asimddp"))
    assert measured_on(pi) == f"latency measured on {pi.describe()}"
    assert pi.to_json() == {"model": pi.model, "machine": "aarch64", "cores": 4,
                            "simd": ["asimd", "asimddp"]}  # fmt: skip
    assert CpuInfo.from_json(pi.to_json()) == pi


def test_this_machine_is_read() -> None:
    cpu = this_cpu()
    assert cpu.cores >= 1 and cpu.machine and cpu.model != "unknown CPU"
