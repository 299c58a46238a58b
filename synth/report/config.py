"""What a report shows: how many trajectories per family, drawn with which seed, how much
untrained context per token view. Validated at construction; errors name the field."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ReportConfig(BaseModel):
    """Options of `build_report` (`synth report` flags map onto them one to one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_family: int = Field(12, ge=1, le=1000,
                            description="trajectories per family in the browser")
    seed: int | None = Field(None, description="sampling seed (default: the job seed)")
    context_tokens_shown: int = Field(
        2048, ge=16, description="an untrained run longer than this shows its head and tail")
    tokenizer: str | None = Field(None, description="tokenizer path or hub id for token "
                                                    "views (default: the V3.2 tokenizer)")
    histogram_bins: int = Field(30, ge=2, le=200, description="bins of the length histograms")

    @classmethod
    def from_options(cls, **options: object) -> ReportConfig:
        """Validate options; a bad one raises ValueError naming the field."""
        try:
            return cls.model_validate({k: v for k, v in options.items() if v is not None})
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"{field}: {first['msg']}") from None
