"""Named entities without authors: methods, models, datasets and benchmarks.

Two sources, both pure string rules:

* a title prefix that is a name (``RandLoRA: ...``, ``ProSper -- ...``): the paper
  *introduces* it, unless a later version follows the name (``SigLIP 2: ...``: it
  mentions it; :data:`_NAME_KINDS`);
* name-shaped tokens in the title or abstract (inner capitals, digits, dots or hyphens:
  ``aTLAS``, ``Qwen2.5-Math``, ``GPT-3``, ``N-PG-IGT``): the paper *mentions* it, unless the
  abstract says "we introduce/propose X" (not "we introduce X Pro", a work built on X).

Common acronyms (``LLM``, ``SGD``, ``MDP``, ``GUI``, ``FID``) are field vocabulary, not
entities, and are left out through :data:`COMMON_ACRONYMS` and :data:`GENERIC_TERMS`.  A
compound of ordinary words (``Multi-Modal``, ``High-Fidelity``) counts only where the abstract
capitalizes it too, as names are (``Inner-Guidance``), not just the title-cased title.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

import polars as pl

from paperlake.keyphrases import LATEX_LEFTOVERS, word_list

EntityRole = Literal["introduces", "mentions"]

COMMON_ACRONYMS = frozenset(
    """
    AI ML DL NLP CV RL LLM LM VLM MLLM LVLM SGD GD ADAM MDP POMDP GPU TPU CPU API
    CNN RNN LSTM GNN MLP VAE GAN NN DNN SOTA IID OOD KL ELBO PAC RKHS MSE ROC AUC QA VQA
    NER ICL COT RLHF SFT DPO PPO PEFT LORA MOE FL NAS KD KG RAG TD PDE ODE SDE MCMC EM
    PCA SVD SVM KNN IO URL HTTP USA UK EU NP LP QP IP SAT ID
    GUI UI UX KV AR VR XR NAR RGB RGBD FPS F1 FID FVD IS PSNR SSIM LPIPS BLEU ROUGE WER CER
    T2I T2V I2V TI2V V2A TTS ASR OCR SR VQ MCTS CFG SDS PRM ORM RM AGI ASI VLA LRM LMM
    RFT RLVR GRPO STEM MCP SQL HTML CSS PDF JSON CUDA FLOP MAC SLM SLAM SFM MVS NVS
    NLI NLU NLG IR CTR POS PII UAV ECE MAE MRI CT ECG EEG AIGC MAS SAE MT VL FFN
    GB TB CUA ATP LIDAR MOS TTFT ABM CAD SVG TDD CM
    """.split()
)
"""Field vocabulary; upper-cased, without a plural ``s``: model classes, metrics, modalities,
task names and formats.  Names of methods a reader would still count (``LoRA``, ``GPT-4``)
are kept: only the all-capital spelling of these is treated as vocabulary."""
GENERIC_TERMS = frozenset(
    "cot moe sota flop dit vit dllm miou lidar multi-modal high-fidelity spatio-temporal".split()
)
"""Field vocabulary in any spelling (``CoT``, ``MoE``, ``SoTA``, ``FLOPs``, ``DiTs``,
``Multi-Modal``), lower-cased, without a plural ``s``."""
HARDWARE = re.compile(
    r"(?:NVIDIA-)?(?:[AHBLV]100|H200|H800|A800|B200|GB200|L\d+|RTX\d*|TPUv?\d*|GPUs?)"
    r"|FP\d+|BF16|BFloat16|INT\d+"
)
"""Accelerators and number formats (``H100``, ``FP8``): not methods, models or datasets."""

# A candidate name: a run of letters, digits, dots, hyphens and pluses with a name-shaped
# spot inside (an inner capital, a letter next to a digit, a capital after a hyphen):
# ``Qwen2.5-Math``, ``N-PG-IGT``, ``DSI++``.  Written without look-around for Rust's regex.
_CANDIDATE = (
    r"[A-Za-z0-9.+-]*(?:[a-z][A-Z]|[A-Z]{2}|[A-Za-z]-?[0-9]|[0-9][A-Za-z]|-[A-Z])[A-Za-z0-9.+-]*"
)
_INNER_CAPITAL = re.compile(r"[a-z][A-Z]|[A-Z]{2}")
_LETTER_DIGIT = re.compile(r"[A-Za-z]-?[0-9]|[0-9][A-Za-z]")
# "RandLoRA: ...", "ProSper -- ...", "Seedance 1.0: ..." (the version is not part of the name:
# group 2, see _NAME_KINDS)
_TITLE_PREFIX = r"^([^\s:]{2,40})(?:\s+([vV]?\d+(?:\.\d+)*))?\s*(?::|\s--\s|\s—\s|\s-\s)"
# "we introduce aTLAS, ...": the name, then (group 2) what may continue it, a version or a
# capitalized word ("we introduce LiveCodeBench Pro", "we present SigLIP 2"); only the verb
# ignores case, so that "we propose RandLoRA which" continues nothing.
_INTRODUCES = (
    r"\b(?i:(?:we|this paper|this work)\s+(?:introduce|introduces|propose|proposes|present|"
    r"presents|develop|develops|release|releases|call|term|dub)\s+(?:a\s+|an\s+|the\s+)?"
    r"(?:new\s+|novel\s+)?)(?:\w+\s+){0,4}?\(?([A-Za-z][\w.+-]*)(\s+(?:v?\d|[A-Z])[\w.+-]*)?"
)
_FIRST_VERSION = r"(?i)^\s*v?1(?:\.0+)*$"
_MODEL_SIZE = r"(?i)^\s*\d+(?:\.\d+)?[bmk]$"
"""A size ("FooLM 7B", "X 1.5B"), not a version: the name stays introduced."""
_NAME_KINDS = frozenset(
    "model models framework suite project system method approach algorithm architecture "
    "toolkit pipeline platform family".split()
)
"""What may follow an introduced name and leave it introduced: its first version ("Seedance
1.0", "BhashaBench V1": :data:`_FIRST_VERSION`), a model size (:data:`_MODEL_SIZE`) or a
word for the kind of work ("FRANK Model", "the AnyCap Project").  Any other version or word
("SigLIP 2", "Seedream 4.0", "LiveCodeBench Pro", "Qwen3 Embedding", "DeepResearch Bench")
makes the work a new one built on a name that exists already, or one whose name is more
than the token kept: the paper only mentions the name.  On the 200 real days the rule took
~90 of 2,413 "introduces" to "mentions": versions and spin-offs of LiveCodeBench, SigLIP,
SimpleQA, Qwen3, Seedream, ... (``report``'s "Entities introduced by papers" had five of
them in its top ten), and the first word of many-word names ("we propose Boundary-Guided
Policy Optimization")."""
NOT_ENTITIES = frozenset(
    "icml neurips nips iclr colt stoc focs soda cvpr iccv eccv acl emnlp naacl aaai ijcai kdd "
    "aistats uai arxiv nvidia google microsoft meta openai deepmind github".split()
)
"""Venues and organizations: proper names, but not methods, models or datasets."""
COMMON_WORDS = word_list("common_words.txt")
_ROMAN = re.compile(r"[IVX]+")
_LONG_LEFTOVERS = tuple(sorted(word for word in LATEX_LEFTOVERS if len(word) >= 5))
_SHORT_LEFTOVERS = tuple(sorted(word for word in LATEX_LEFTOVERS if len(word) < 5))
"""A token holding a LaTeX leftover is no entity: anywhere in it for the longer ones
(``nLvarepsilon``), only at its start for the short ones, which ordinary names contain
("SimpleQA" holds ``leq``).  On the 200 real days, the samples and a synthetic year, the
same entities as the shorter list entities had kept before (each word anywhere)."""
_URL = r"https?://\S+"


@dataclass(frozen=True, slots=True)
class EntityMention:
    entity: str
    role: EntityRole


def _singular(part: str) -> str:
    return part[:-1] if part.endswith("s") and len(part) > 2 else part


def _is_common_acronym(part: str) -> bool:
    singular = _singular(part)
    return (singular.isupper() and singular in COMMON_ACRONYMS) or (
        singular.lower() in GENERIC_TERMS
    )


def is_title_name(token: str) -> bool:
    """A title prefix that is one uncommon capitalized word (``Durian: ...``) names the work."""
    return (
        len(token) >= 4
        and _is_word(token)
        and token[0].isupper()
        and token.lower() not in COMMON_WORDS
    )


def is_word_compound(token: str) -> bool:
    """Ordinary words joined by hyphens (``Multi-Modal``, ``Inner-Guidance``)."""
    parts = token.split("-")
    return len(parts) > 1 and all(_is_word(part) for part in parts)


def _is_word(part: str) -> bool:
    """An ordinary word: lower case or capitalized (``based``, ``Rank``)."""
    if not part.isalpha():
        return False
    return part.islower() or (part[0].isupper() and (part[1:].islower() or len(part) == 1))


def is_entity_token(token: str) -> bool:
    """Does this token look like a name rather than a word?"""
    if len(token) < 2 or token[0].isdigit() or _ROMAN.fullmatch(token):
        return False
    lowered = token.lower()
    if any(leftover in lowered for leftover in _LONG_LEFTOVERS) or lowered.startswith(
        _SHORT_LEFTOVERS
    ):
        return False
    if lowered in NOT_ENTITIES or _singular(lowered) in GENERIC_TERMS or HARDWARE.fullmatch(token):
        return False
    if not token.isupper() and len(token) >= 5 and lowered in COMMON_WORDS:
        return False  # "ADAptive", "BAlaNced": a word capitalized to spell an acronym
    if token[0].islower() and not _INNER_CAPITAL.search(token):
        return False  # "seq2seq", "glz17": citation keys and plain words
    parts = [part for part in re.split(r"-", token) if part]
    # "Low-Rank", "LLM-based", "AI-Assisted", "LLMs": words and field acronyms, not names;
    # "Ptr-Net" has a part that is no ordinary word, so it is a name.
    if all(_is_word(part) or _is_common_acronym(part) for part in parts):
        return (
            len(parts) > 1
            and any(_is_word(part) and part.lower() not in COMMON_WORDS for part in parts)
            and not any(part.islower() for part in parts)
        )
    if len(parts) > 1 and any(
        part.isalpha() and part.islower() and len(part) >= 3 for part in parts
    ):
        return False  # "NP-hard", "PG-type": an acronym used as a modifier
    return bool(_INNER_CAPITAL.search(token) or _LETTER_DIGIT.search(token))


@functools.lru_cache(maxsize=1 << 16)
def _name_rules(name: str) -> tuple[bool, bool, bool]:
    """(:func:`is_entity_token`, :func:`is_title_name`, :func:`is_word_compound`) of a name,
    remembered across chunks: the same names come back day after day."""
    return is_entity_token(name), is_title_name(name), is_word_compound(name)


def tag_entities(papers: pl.DataFrame) -> pl.DataFrame:
    """(paper_id, entity, role) for a frame of (paper_id, title, abstract), each pair once.

    The regex work runs in polars (Rust, all cores); only the distinct candidate tokens go
    through the Python rules of :func:`is_entity_token`.  ``introduces`` wins over
    ``mentions``.
    """
    text = papers.select(
        "paper_id",
        "title",
        # URLs name owners and repos ("OpenSparseLLMs/MoM"); repos are counted on their own.
        pl.col("abstract").str.replace_all(_URL, " ").alias("abstract"),
    )
    title = pl.col("title")
    prefix = text.select(
        "paper_id",
        title.str.extract(_TITLE_PREFIX, 1).alias("entity"),
        title.str.extract(_TITLE_PREFIX, 2).alias("continued"),
    )
    match = pl.col("match")
    declared = (
        text.select("paper_id", pl.col("abstract").str.extract_all(_INTRODUCES).alias("match"))
        .explode("match")
        .select(
            "paper_id",
            match.str.extract(_INTRODUCES, 1).alias("entity"),
            match.str.extract(_INTRODUCES, 2).alias("continued"),
        )
    )
    # A name that ends its sentence ("... we propose DAPO. The ...") is not continued; what
    # follows it is read without the sentence's end ("... FRANK Model.").
    continued = pl.col("continued").is_not_null() & ~pl.col("entity").str.ends_with(".")
    follower = pl.col("continued").str.strip_chars().str.strip_chars_end(".,;:")
    introduced = pl.concat([prefix, declared]).select(
        "paper_id",
        pl.col("entity").str.strip_chars_end(".-,)"),
        pl.when(
            continued
            & ~follower.str.contains(_FIRST_VERSION)
            & ~follower.str.contains(_MODEL_SIZE)
            & ~follower.str.to_lowercase().is_in(_NAME_KINDS)
        )
        .then(pl.lit("mentions"))
        .otherwise(pl.lit("introduces"))
        .alias("role"),
        pl.lit(False).alias("title_case_only"),
    )
    mentioned = pl.concat(
        [
            text.select(
                "paper_id",
                pl.col(column).str.extract_all(_CANDIDATE).alias("entity"),
                pl.lit(column == "title").alias("title_case_only"),
            )
            for column in ("title", "abstract")
        ]
    ).explode("entity")
    mentioned = mentioned.select(
        "paper_id",
        pl.col("entity").str.strip_chars_start(".-+").str.strip_chars_end(".-"),
        pl.lit("mentions").alias("role"),
        "title_case_only",
    )
    found = pl.concat([introduced, mentioned]).drop_nulls("entity")
    # A plural next to its singular in the same paper is the same name: "Ptr-Nets", "DSIs".
    # (A join: a window of each paper's names cost twice as much.)
    names_of_paper = found.select(
        "paper_id", pl.col("entity").alias("singular"), pl.lit(True).alias("has_singular")
    ).unique(["paper_id", "singular"])
    found = (
        found.with_columns(pl.col("entity").str.strip_suffix("s").alias("singular"))
        .join(names_of_paper, on=["paper_id", "singular"], how="left", maintain_order="left")
        .select(
            "paper_id",
            pl.when(pl.col("entity").str.ends_with("s") & pl.col("has_singular"))
            .then("singular")
            .otherwise("entity")
            .alias("entity"),
            "role",
            "title_case_only",
        )
    )
    names = found.select(pl.col("entity").unique())
    rules = pl.DataFrame(
        [_name_rules(name) for name in names["entity"]],
        schema={"token": pl.Boolean, "title_name": pl.Boolean, "compound": pl.Boolean},
        orient="row",
    )
    names = pl.concat([names, rules], how="horizontal")
    own_prefix = prefix.select("paper_id", pl.col("entity").alias("own_prefix"))
    kept = (
        found.join(names, on="entity")
        .join(own_prefix, on="paper_id", how="left")
        .filter(
            # A one-word title prefix ("Durian: ...") names that paper's work only: the rule
            # looks at the paper itself, never at the rest of the batch, so a backfill and
            # daily runs of the same days find the same entities.
            pl.col("token") | (pl.col("title_name") & (pl.col("entity") == pl.col("own_prefix")))
        )
        .filter(
            # "High-Fidelity" in a title-cased title is a phrase; in the abstract, a name
            ~(pl.col("compound") & pl.col("title_case_only").all().over("paper_id", "entity"))
        )
    )
    return (
        kept.sort("paper_id", "role", "entity")  # "introduces" sorts before "mentions"
        .unique(["paper_id", "entity"], keep="first", maintain_order=True)
        .select("paper_id", "entity", "role")
    )


def extract_entities(title: str, abstract: str) -> list[EntityMention]:
    """Entities of one paper: :func:`tag_entities` on a single row."""
    frame = pl.DataFrame({"paper_id": ["-"], "title": [title], "abstract": [abstract]})
    return [
        EntityMention(entity, role)
        for entity, role in tag_entities(frame).select("entity", "role").iter_rows()
    ]
