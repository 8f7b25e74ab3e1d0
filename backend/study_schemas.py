"""Response schemas of the studies API (``backend.routes.studies``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StudyInfo(BaseModel):
    """A study (the runs an experiment file queued) and how many runs it holds."""

    name: str
    runs: int


class StudyStatistic(BaseModel):
    """Mean and sample std (ddof=1; null for one run) over a group's completed runs, n counted."""

    mean: float | None
    std: float | None
    n: int


class StudyColumn(BaseModel):
    """One statistic of the table: which metric, reduced how, shown in percent or not."""

    name: str
    label: str
    metric: str
    reduce: str = Field(
        description="final (last epoch), best (the metric's best epoch) or mean (over epochs)"
    )
    percent: bool


class StudyMember(BaseModel):
    id: int
    name: str
    seed: int
    status: str
    counted: bool = Field(description="completed, so it counts in the statistics")


class StudyCurve(BaseModel):
    """The chosen metric's mean and sample std over the counted members at each epoch."""

    epoch: list[int]
    mean: list[float | None]
    std: list[float | None]
    n: list[int]


class StudyGroup(BaseModel):
    """Runs with the same config up to the seed."""

    key: str = Field(
        description="method/dataset/model:HASH of the config without seed, name and runtime settings"
    )
    label: str = Field(description="the method and the settings that tell this group from the study's others")
    method: str
    dataset: str
    settings: dict
    members: list[StudyMember]
    counted: int
    statistics: dict[str, StudyStatistic]
    best: list[str] = Field(description="the statistics whose lowest mean in this dataset is this group's")
    curve: StudyCurve


class StudyDetail(BaseModel):
    name: str
    metric: str = Field(description="the metric of the groups' curves")
    columns: list[StudyColumn]
    groups: list[StudyGroup]
