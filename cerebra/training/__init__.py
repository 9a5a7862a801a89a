"""LoRA training of local models (PEFT through TRL's SFT and DPO trainers) on CPU or CUDA,
with checkpoints, curves and conversion of adapters to GGUF for llama.cpp. Heavy libraries
(torch, transformers, trl) are imported only inside the functions that train.
"""
