"""Bronze -> silver: config-driven cleansing, quarantine, data-quality report
and currency normalisation.  Pure functions; the pipeline does the I/O.

    mapping = load_mapping(Path("config/bronze_to_silver_mapping.json"))
    result = build_silver(bronze_frames, mapping, run_id=run_id)
    result.tables["accounts"], result.quarantine, result.report.to_frame()
"""

from etl.silver.build import SilverResult, build_silver, quarantine_to_arrow, to_arrow
from etl.silver.mapping import MappingConfig, load_mapping, validate_mapping
from etl.silver.quality import DataQualityReport, TableQuality

__all__ = [
    "DataQualityReport",
    "MappingConfig",
    "SilverResult",
    "TableQuality",
    "build_silver",
    "load_mapping",
    "quarantine_to_arrow",
    "to_arrow",
    "validate_mapping",
]
