"""Oracle for the GGUF dequantisation tests: gguf-py writes the tensors and dequantises them.

  gguf_oracle.py OUT_DIR

  OUT_DIR/quants.gguf            written by gguf.GGUFWriter; tensors named "<TYPE>.<what>":
                                 <TYPE>.quantized  random normal floats that gguf-py quantizes
                                                   (F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)
                                 <TYPE>.random     random block bytes whose f16 scales are made
                                                   finite (every block type, K-quants included)
                                 F16.all, BF16.all every one of the 65536 bit patterns, NaNs too
                                 F32.bits          random 32-bit patterns, NaNs too
                                 and a few other shapes (1-D, 3-D)
  OUT_DIR/expected.safetensors   gguf.quants.dequantize of each tensor's bytes as gguf.GGUFReader
                                 reads them back, float32, in the logical (row-major) shape
"""
import sys

import numpy as np
from safetensors.numpy import save_file

import gguf
from gguf import GGMLQuantizationType as Q

QUANTIZABLE = [Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0]
BLOCK_TYPES = [Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K]
# Byte offsets of the f16 scale fields in each block (ggml-common.h; see gguf-py's quants.py).
F16_FIELDS = {Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0],
              Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}


def random_blocks(rng: np.random.Generator, qtype: Q, shape: tuple) -> np.ndarray:
    """Random bytes for `shape` elements of qtype, byte shape (rows, bytes per row)."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = int(np.prod(shape)) // block_size
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for offset in F16_FIELDS[qtype]:
        # Any sign and mantissa, exponent below 16: finite, |x| < 2, subnormals and zeros
        # included. NaN scales would make the result depend on NaN propagation order.
        bits = rng.integers(0, 1 << 16, size=n_blocks, dtype=np.uint16) & np.uint16(0xBFFF)
        blocks[:, offset:offset + 2] = bits.view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(*shape[:-1], shape[-1] // block_size * type_size)


def write_gguf(path: str) -> None:
    rng = np.random.default_rng(1234)
    writer = gguf.GGUFWriter(path, arch="oracle")

    for qtype in QUANTIZABLE:
        data = (rng.standard_normal((4, 512)) * 0.1).astype(np.float32)
        data[0, :32] = 0  # an all-zero block (d = 0)
        data[1, :32] = 0.25  # a constant block (max == min)
        quantized = gguf.quants.quantize(data, qtype)
        if quantized.dtype == np.uint8:
            writer.add_tensor(f"{qtype.name}.quantized", quantized, raw_dtype=qtype)
        else:  # F16 comes back as float16, which the writer types by itself
            writer.add_tensor(f"{qtype.name}.quantized", quantized)

    for qtype in BLOCK_TYPES:
        writer.add_tensor(f"{qtype.name}.random", random_blocks(rng, qtype, (4, 512)), raw_dtype=qtype)

    every_half = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).reshape(128, 512)
    writer.add_tensor("F16.all", every_half.view(np.float16))
    writer.add_tensor("BF16.all", every_half.view(np.uint8), raw_dtype=Q.BF16)
    writer.add_tensor("F32.bits", rng.integers(0, 1 << 32, size=(4, 512), dtype=np.uint32).view(np.float32))

    # Other ranks: the directory stores ne innermost first, the tensors are row-major.
    writer.add_tensor("F32.vector", rng.standard_normal(7).astype(np.float32))
    writer.add_tensor("Q8_0.3d", random_blocks(rng, Q.Q8_0, (2, 3, 64)), raw_dtype=Q.Q8_0)
    writer.add_tensor("Q4_K.3d", random_blocks(rng, Q.Q4_K, (3, 1, 512)), raw_dtype=Q.Q4_K)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> None:
    out = sys.argv[1]
    write_gguf(f"{out}/quants.gguf")
    expected = {}
    for t in gguf.GGUFReader(f"{out}/quants.gguf").tensors:
        shape = [int(n) for n in reversed(t.shape)]  # t.shape is ggml's ne, innermost first
        values = gguf.quants.dequantize(t.data, t.tensor_type)
        expected[t.name] = np.ascontiguousarray(values.astype(np.float32, copy=False).reshape(shape))
    save_file(expected, f"{out}/expected.safetensors")


if __name__ == "__main__":
    main()
