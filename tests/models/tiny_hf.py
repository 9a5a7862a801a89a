"""Builders for tests: a tiny random Llama model folder and a random PEFT LoRA adapter for it.

Everything is made offline in a few hundred milliseconds: a word-level tokenizer trained on a
short corpus, a two-layer model with random weights, and an adapter whose A and B matrices
are both random (so it really changes the outputs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CORPUS = ("the cat sat on a mat and the dog ran to the park while birds sang over green "
          "hills User Assistant : . , ! ? hello world paris france capital is of")


def make_tiny_model(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(special_tokens=["<pad>", "<unk>", "<s>", "</s>"])
    tok.train_from_iterator([CORPUS] * 3, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>")
    fast.save_pretrained(folder)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=fast.vocab_size, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, bos_token_id=fast.bos_token_id,
                         eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def make_lora(base_model: Any, folder: Path, *, seed: int = 1, r: int = 4) -> Path:
    """Save a random LoRA adapter (q_proj, v_proj) for `base_model` into `folder`."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    config = LoraConfig(r=r, lora_alpha=4 * r, target_modules=["q_proj", "v_proj"],
                        init_lora_weights=False, task_type="CAUSAL_LM")
    peft_model = get_peft_model(copy.deepcopy(base_model), config)
    peft_model.save_pretrained(str(folder))
    return folder
