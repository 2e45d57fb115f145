"""Oracle for the safetensors tests: the reference Python library writes and reads files.

  write OUT       writes one tensor of every dtype with known contents
  read  IN        prints {name: {"dtype", "shape", "hex"}} of every tensor, bytes as stored
"""
import json
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

DTYPES = {
    "BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16, "U16": torch.uint16,
    "F16": torch.float16, "BF16": torch.bfloat16, "I32": torch.int32, "U32": torch.uint32,
    "F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "U64": torch.uint64,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}


def raw_hex(t: torch.Tensor) -> str:
    t = t.contiguous()
    return t.reshape(-1).view(torch.uint8).numpy().tobytes().hex() if t.numel() else ""


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        tensors = {}
        for name, dtype in DTYPES.items():
            base = torch.arange(-6, 6, dtype=torch.float32).reshape(3, 4) / 4
            if dtype == torch.bool:
                t = base > 0
            elif dtype in (torch.uint8, torch.uint16, torch.uint32, torch.uint64):
                t = (base * 4 + 6).to(torch.int64).to(dtype)
            else:
                t = (base if dtype.is_floating_point else base * 4).to(dtype)
            tensors[f"t_{name}"] = t
        tensors["scalar"] = torch.tensor(3.5)
        tensors["empty"] = torch.zeros(0, 5)
        save_file(tensors, path, metadata={"format": "pt", "source": "oracle"})
    elif mode == "read":
        out = {}
        for name, t in load_file(path).items():
            dtype = next(k for k, v in DTYPES.items() if v == t.dtype)
            out[name] = {"dtype": dtype, "shape": list(t.shape), "hex": raw_hex(t)}
        print(json.dumps(out))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
