"""No-reference image quality of single bands: NIQE, PIQE and BRISQUE (paper Fig. 12).

Lower is better for all three. One module per algorithm, plus what they share:

- :mod:`.nss`: MSCN coefficients and generalised-Gaussian fits, the statistics all three use;
- :mod:`.models`: finding and reading the pre-trained NIQE and BRISQUE models;
- :mod:`.niqe`, :mod:`.piqe`, :mod:`.brisque`: the scores of one grey image;
- :mod:`.per_band`: every band of a cube, as the evaluation reports them.
"""
