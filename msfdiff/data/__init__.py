"""Data layer: reading and writing cubes and photos, wavelengths, patches, band selection.

Public arrays are (height, width, bands) numpy arrays; torch conversion happens elsewhere.
"""

from msfdiff.data.bands import BandSelector, parse_band_selector
from msfdiff.data.cube import HyperCube, check_finite
from msfdiff.data.patches import PatchSet, extract_patches, load_patch, make_manifest
from msfdiff.data.readers import (
    expand_hsi_paths,
    read_band_images,
    read_hsi,
    read_hsi_collection,
    read_hsi_many,
)
from msfdiff.data.rgb import Photo, list_photos, read_photo
from msfdiff.data.samples import Sample, SampleFolder, load_samples
from msfdiff.data.spectra import library_spectra, list_response_curves, response_curves
from msfdiff.data.wavelengths import (
    CHIKUSEI_MSFDIFF_NOTE,
    chikusei_msfdiff_wavelengths,
    parse_wavelengths,
    resample,
)
from msfdiff.data.writers import write_hsi

__all__ = [
    "CHIKUSEI_MSFDIFF_NOTE",
    "BandSelector",
    "HyperCube",
    "PatchSet",
    "Photo",
    "Sample",
    "SampleFolder",
    "check_finite",
    "chikusei_msfdiff_wavelengths",
    "expand_hsi_paths",
    "extract_patches",
    "library_spectra",
    "list_photos",
    "list_response_curves",
    "load_patch",
    "load_samples",
    "make_manifest",
    "parse_band_selector",
    "parse_wavelengths",
    "read_band_images",
    "read_hsi",
    "read_hsi_collection",
    "read_hsi_many",
    "read_photo",
    "resample",
    "response_curves",
    "write_hsi",
]
