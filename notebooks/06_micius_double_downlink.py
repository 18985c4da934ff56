# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Micius: entanglement from space to two ground stations
#
# In 2016 the Chinese satellite **Micius** (QUESS) carried an entangled-photon source to a
# 500 km orbit and sent the two photons of each pair to two ground stations at once, a
# *double downlink*. Two of its results are the benchmarks of this notebook:
#
# * **2017** (Yin et al., Science 356, 1140): Delingha and Lijiang, 1203 km apart, violate the
#   CHSH inequality with $S = 2.37 \pm 0.09$;
# * **2020** (Yin et al., Nature 582, 501): Delingha and Nanshan, 1120 km apart, run BBM92 and
#   distil a secret key over 3100 s of data.
#
# `qentangle` rebuilds both from *inputs* (orbit, stations, telescopes, source, detectors): the
# link model gives the coincidence rates, the quantum layer runs the protocol on the detected
# pairs, and we put the outputs beside the published numbers. Some inputs are not in the papers
# we hold; the preset files say which, and we show them first.

# %%
# %matplotlib inline
import math
import re
import statistics

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from qentangle import apply_overrides, list_presets, load_scenario, run_pass
from qentangle.link import plots as link_plots
from qentangle.plots import plot_pass_comparison
from qentangle.scenarios import preset_text
from qentangle.scenarios.compare import (
    PUBLISHED,
    comparable_figures,
    compare,
    expected_key,
    figure_spread,
)

SEEDS = tuple(range(1, 9))
SIGMAS = 4
print("presets:", list_presets())

# %% [markdown]
# ## The inputs and where they come from
#
# Every value in a preset TOML carries a comment with its source: **[P]** read in the paper,
# **[S]** secondary source, **[R]** recalled and not re-checked, **[D]** derived from other
# values, **[A]** an assumption, **[T]** an assumption *tuned* so that one published figure comes
# out right. We parse those comments (a value without a mark on its line inherits the marks of
# the comment block just above it).

# %%
MARK = re.compile(r"\[([PSRDAT])\b")


def preset_inputs(name):
    # rows (key, value, marks, comment) from a preset's TOML text and its comments
    rows, section, block = [], "", []
    for line in preset_text(name).splitlines():
        stripped = line.strip()
        if not stripped:
            block = []
        elif stripped.startswith("#"):
            if line.startswith(" ") and rows:          # indented: continues the previous comment
                rows[-1]["comment"] += " " + stripped.lstrip("# ")
                rows[-1]["marks"] |= set(MARK.findall(stripped))
            else:
                block.append(stripped.lstrip("# "))
        elif stripped.startswith("["):
            section, block = stripped.strip("[]"), []
        else:
            key, _, rest = stripped.partition("=")
            value, _, comment = rest.partition("#")
            comment = comment.strip()
            marks = set(MARK.findall(comment)) or set(MARK.findall(" ".join(block)))
            rows.append({"key": f"{section}.{key.strip()}", "value": value.strip(), "marks": marks,
                         "comment": comment or " ".join(block)})
            block = []
    # the scenario's and stations' names are labels, not inputs
    return [r for r in rows if not r["key"].startswith("scenario.") and not r["key"].endswith(".name")]


inputs = {name: preset_inputs(name) for name in ("micius-2020", "micius-2017")}
for name, rows in inputs.items():
    counts = {m: sum(m in r["marks"] for r in rows) for m in "PSRDAT"}
    print(f"{name}: {len(rows)} inputs; " + ", ".join(f"[{m}] {c}" for m, c in counts.items()))
    assert all(r["marks"] for r in rows), [r["key"] for r in rows if not r["marks"]]


# %% [markdown]
# The inputs that are **tuned** to a published figure, and the main **assumptions**, of the
# 2020 preset (the 2017 preset shares the payload; its own [T] are Lijiang's receiver optics and
# a residual polarization misalignment, discussed with the Bell test below):

# %%
def input_table(rows, wanted):
    lines = ["| input | value | marks | source note |", "|---|---|---|---|"]
    for r in rows:
        if r["marks"] & wanted:
            note = r["comment"].replace("|", "/")
            note = note if len(note) < 150 else note[:147] + "..."
            lines.append(f"| `{r['key']}` | {r['value']} | {' '.join(sorted(r['marks']))} | {note} |")
    return "\n".join(lines)


display(Markdown("**micius-2020, tuned [T]**\n\n" + input_table(inputs["micius-2020"], {"T"})))
display(Markdown("**micius-2017, tuned [T]**\n\n" + input_table(inputs["micius-2017"], {"T"})))
display(Markdown("**micius-2020, assumptions [A]**\n\n" + input_table(inputs["micius-2020"], {"A"})))

# %% [markdown]
# So three numbers of 2020 are fitted (the source visibility, the receivers' optics efficiency
# and the night-sky background) to the published QBER, count rate and signal-to-noise ratio,
# and two of 2017 (Lijiang's receiver optics to the ~1.1 Hz coincidence rate, and a polarization
# misalignment to $S$); those outputs *cannot* be a test of the model. The night background of
# every receiver of both years follows **one rule**, anchored on the 2020 fit: sky light passes
# through the same telescope and relay optics as the signal, so the background scales with the
# collecting area and the receiver optics,
# $3900\,\mathrm{Hz} \times (D / 1.2\,\mathrm{m})^2 \times (\eta_\mathrm{optics} / 0.29)$.
# What is tested is everything that follows from the fitted inputs together with the geometry:
# the loss over a pass, the sifted rate and the key rates.
#
# ## The pass: geometry, loss, rates
#
# `Scenario.physics()` finds the double-visibility window of the pass (both stations above
# their 10° tracking limit) and computes, per 10 s slice, the slant ranges, each downlink's
# loss (diffraction, atmosphere, pointing, optics, detectors), the true and accidental
# coincidence rates, and the expected QBER.

# %%
for name in ("micius-2020", "micius-2017"):
    for station in load_scenario(name).stations:
        rule = 3900 * (station.aperture_m / 1.2) ** 2 * station.optics_efficiency / 0.29
        print(f"{name} {station.name:9} D = {station.aperture_m} m, "
              f"optics {station.optics_efficiency:5.3f}: background "
              f"{station.background_night_hz:6.0f} Hz (rule: {rule:6.0f} Hz)")
        assert abs(station.background_night_hz - rule) < 0.5

scenario = load_scenario("micius-2020")
one_pass = scenario.physics(accumulate=False)   # a single pass; the run repeats it up to 3100 s
print(scenario.description)
print(f"pass: {one_pass.window.start:%Y-%m-%d %H:%M:%S} UTC, {one_pass.total_duration_s:.0f} s of "
      f"double visibility in {one_pass.n_slices} slices")
summary = one_pass.summary(scenario.protocol.p_z)
for key in ("elevation_a_deg_max", "elevation_b_deg_max", "range_sum_km_min", "range_sum_km_max",
            "loss_db_min", "loss_db_max", "coincidence_rate_hz", "accidental_rate_hz", "snr", "qber"):
    print(f"  {key:22} {summary[key]:10.4g}")
for station, ranges in zip(scenario.stations, (one_pass.range_a_m, one_pass.range_b_m), strict=True):
    print(f"  slant range to {station.name}: {ranges.min() / 1e3:.0f} to {ranges.max() / 1e3:.0f} km")
display(link_plots.plot_ground_track(one_pass, scenario.stations))
display(link_plots.plot_geometry(one_pass, scenario.stations))

# %% [markdown]
# The satellite crosses between the two stations (north to south, as the preset assumes), and
# each station tracks it from its 10° limit up to the highest elevation of the pass. The loss
# follows the range (the beam's footprint grows as $L^2$) and the air mass at low elevation:

# %%
display(link_plots.plot_loss(one_pass, scenario.stations))
display(link_plots.plot_rates(one_pass))
display(link_plots.plot_qber(one_pass))

# Loss is classical: the true coincidence rate is the pair rate times the two-photon transmittance.
assert np.allclose(one_pass.coincidence_rate_hz, one_pass.pair_rate_hz * 10 ** (-one_pass.loss_db / 10))
print(f"source: {one_pass.pair_rate_hz:.3g} pairs/s; two-photon loss {one_pass.loss_db.min():.1f} to "
      f"{one_pass.loss_db.max():.1f} dB, so {one_pass.coincidence_rate_hz.min():.2f} to "
      f"{one_pass.coincidence_rate_hz.max():.2f} pairs/s reach both detectors")

# %% [markdown]
# Out of millions of pairs per second only a handful reach both detectors. Accidental coincidences (two photons from different pairs, or
# background light) are uncorrelated; they are the white noise that, together with the source's
# visibility, sets the QBER. At the edges of the pass, where the signal is weakest, the QBER is
# highest.
#
# ## The 2020 key: BBM92 over 3100 s
#
# `run_pass` draws Poisson counts of true and accidental coincidences per slice, runs BBM92 on
# the detected pairs (true ones through the source's noise, accidental ones as fully mixed
# pairs) and distils the key accumulated over 3100 s (nine repetitions of the pass). One run:

# %%
first = run_pass("micius-2020", seed=SEEDS[0])
data = first.to_dict()
for key in ("duration_s", "passes", "coincidences", "coincidence_rate_hz", "snr", "sifted_bits",
            "sifted_rate_hz", "qber", "asymptotic_key_rate_bps", "finite_key_rate_bps", "final_key_bits",
            "aborted"):
    print(f"{key:24} {data[key]}")
print("keys identical:", data["protocol_result"]["keys_match"])

# %% [markdown]
# ## Eight passes, side by side with the published figures
#
# A pass has only a few thousand coincidences, so its figures fluctuate from seed to seed. The
# comparison therefore judges a deterministic **model** column: the link model's expectation
# over the data time and, for the 2020 key, the finite-key length at the expected sifted count
# and QBER (`qentangle.scenarios.compare.expected_key`, with the paper's error-correction
# efficiency $f = 1.19$). Beside it are the mean ± standard deviation and the range of eight
# simulated passes (seeds 1 to 8). The published figures, their confidence marks and the margins
# come from `qentangle.scenarios.compare.PUBLISHED` (the figures of Yin et al., Science 356, 1140,
# 2017 and Nature 582, 501, 2020; the margin is the published uncertainty where there is one, otherwise a stated tolerance).
# **[T]** marks a row whose model value is tuned to the published one, **no\*** a documented
# miss; the numbered notes give the reasons.

# %%
runs = {
    "micius-2020": [first] + [run_pass("micius-2020", seed=s) for s in SEEDS[1:]],
    "micius-2017": [run_pass("micius-2017", seed=s) for s in SEEDS],
}
figures = {name: [comparable_figures(r.to_dict()) for r in results] for name, results in runs.items()}
expected = {name: results[0].to_dict()["expected"] for name, results in runs.items()}
rows = {name: compare(name, spread=figure_spread(figures[name])) for name in runs}

lines = [f"| experiment | quantity | published | model | ours: mean ± sd ({len(SEEDS)} seeds) | "
         "min … max | margin | model within | seeds within |",
         "|---|---|---|---|---|---|---|---|---|"]
notes = []
for name in ("micius-2020", "micius-2017"):
    published = {p.key: p for p in PUBLISHED[name]}
    for row in rows[name]:
        pub = published[row.key]
        values = [f.get(row.key) for f in figures[name]]
        numeric = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        inside = sum(abs(v - pub.value) <= pub.limit for v in numeric)
        for note in row.notes:
            if note not in notes:
                notes.append(note)
        refs = " (" + ",".join(str(notes.index(n) + 1) for n in row.notes) + ")" if row.notes else ""
        sd = row.spread[1] if row.spread else 0.0
        ours = f"{row.spread[0]:.4g} ± {sd:.2g}" if abs(sd) < 100 else f"{row.spread[0]:.0f} ± {sd:.0f}"
        span = f"{min(numeric):.4g} … {max(numeric):.4g}" if numeric else "—"
        verdict = "yes" if row.within else ("no\\*" if row.documented_miss else "**NO**")
        lines.append(
            f"| {name[-4:]} | {pub.quantity}{' [T]' if row.tuned else ''} | {pub.value:g} [{pub.mark}] | "
            f"{row.model:.4g} | {ours} | {span} | {pub.margin.replace('+-', '±')} | {verdict}{refs} | "
            f"{inside}/{len(numeric) if numeric else 0} |"
        )
display(Markdown("\n".join(lines)))
display(Markdown("\n".join(f"{i}. {note}" for i, note in enumerate(notes, 1))))
# a row is outside its margin exactly when it is a documented miss
assert all(row.within != row.documented_miss for name in rows for row in rows[name])

# %% [markdown]
# How to read it: the count rate, SNR and QBER of 2020, and $S$, its QBER and the count rate of
# 2017, are where the tuned inputs put them (a check of the bookkeeping, not of the physics).
# The sifted rate follows without tuning ($p_z = 1/2$ keeps half the pairs), and so does the
# asymptotic key rate. Two kinds of rows miss, for the reasons in the notes:
#
# * **loss**: each row compares the loss its published figure can be. The recalled 2017 range
#   must be end-to-end (detectors included) for 5.9e6 pairs/s to give ~1.1 Hz; the recalled
#   2020 range cannot be end-to-end together with the published 2.2 Hz, so it is compared with
#   our loss *without* detectors (54.7 to 71.7 dB against 56 to 71). With turbulence (a
#   Hufnagel-Valley profile, seeing against the receiver's field stop) and tracking error
#   growing towards the horizon, our 2017 loss spans ~12 dB over the pass (65.3 to 77.1 dB)
#   where the recalled range spans ~18 dB: the maximum is ~5 dB short, a documented miss
#   (no standard input adds ~5 dB at 10° without adding more than the margin at 35°).
# * **finite key**: our composable bound is looser than the paper's finite-key analysis (next
#   cell).
#
# ### The 2020 finite key: model, seed spread and the paper
#
# The finite key of a 3100 s run is very sensitive to the run's QBER, so one run says little.
# The model value is deterministic; the runs fluctuate around the same calculation done with
# the efficiency their Cascade reached (lower than the paper's Hamming code, so more key):

# %%
protocol = load_scenario("micius-2020").protocol
data_runs = [r.to_dict() for r in runs["micius-2020"]]
finals = np.array([d["final_key_bits"] for d in data_runs])
f_cascade = statistics.fmean(d["protocol_result"]["ec_efficiency"] for d in data_runs)
model_paper_f = expected["micius-2020"]["final_key_bits"]
model_cascade_f = expected_key(expected["micius-2020"], protocol, f_cascade)["final_key_bits"]
at_published = expected_key({"sifted_rate_hz": 1.1, "qber": 0.045, "duration_s": 3100.0}, protocol)
stderr = finals.std(ddof=1) / math.sqrt(finals.size)
print(f"simulated runs ({finals.size} seeds): final key {finals.mean():.0f} ± "
      f"{finals.std(ddof=1):.0f} bits (range {finals.min()} … {finals.max()}), "
      f"Cascade f = {f_cascade:.3f}")
print(f"model at the link model's expectation: {model_cascade_f} bits with f = {f_cascade:.3f}, "
      f"{model_paper_f} bits with the paper's f = 1.19")
print(f"model at the published operating point (3410 sifted bits, QBER 4.5 %, f = 1.19): "
      f"{at_published['final_key_bits']} bits; published: 372 bits")
assert abs(finals.mean() - model_cascade_f) <= SIGMAS * stderr   # the runs scatter around the model
assert at_published["final_key_bits"] < 372                      # our bound is the looser one

# %% [markdown]
# So with the paper's own operating point and error-correction efficiency, our finite-key
# bound keeps about three quarters of the published 372 bits: the paper's finite-key analysis
# is less conservative than ours (we bound the phase errors of each basis from the bit errors
# of the other with the exact hypergeometric tail, the two bounds failing together with
# probability at most $(\varepsilon/2)^2$). Nothing is tuned to close that gap.
#
# The finite-key analyses side by side at the published operating point (3410 sifted bits,
# QBER 4.5 %, f = 1.19, eps = 1e-10), each with what it assumes and the published claim beside
# it (`qentangle.finite_key_analyses`):

# %%
from qentangle import finite_key_analyses

analyses = finite_key_analyses()
display(Markdown("\n".join(
    ["| analysis | key at 1e-10 (bits) | smallest eps with a key | published |", "|---|---:|---:|---|"]
    + [f"| {a.name} | {a.key_bits} | {a.first_positive_eps:.0e} | {a.published or ''} |" for a in analyses]
)))
by_name = {a.name: a for a in analyses}
assert by_name["hypergeometric"].key_bits == 266      # our default, composable
assert by_name["lim-2021"].first_positive_eps <= 1e-5  # Lim et al. 2021: Micius gives a key at 1e-5

# %% [markdown]
# Only a reading without the privacy-amplification term and the tag (not a composable 1e-10 key)
# comes near the published 372 bits; the default stays the stricter bound.
#
# ## The 2017 Bell test
#
# With the one background rule, the 2017 link would be as clean as the 2020 one (SNR ~15) and
# the model would give $S \approx 2.51$, outside the published $2.37 \pm 0.09$. The preset
# therefore adds **one** tuned input: a residual polarization misalignment of the 2017 link
# (`link.misalignment_deg`, [T]; 0 in 2020, when the compensation is assumed to have
# improved). The model's $S$ is thus 2.37 *by construction*. What the runs test is that the
# simulation reproduces its model, and that one run's statistical error is the published one
# (the data time is derived from it, [A]). The seed spread:

# %%
S_pub = {p.key: p for p in PUBLISHED["micius-2017"]}["chsh"]
bell = runs["micius-2017"]
S = np.array([r.to_dict()["S"] for r in bell])
S_err = np.array([r.to_dict()["S_stderr"] for r in bell])
S_model = expected["micius-2017"]["chsh"]
base_2017 = load_scenario("micius-2017")
S_untuned = apply_overrides(base_2017, ["link.misalignment_deg=0"]).physics().summary(None)["chsh"]
for seed, r, s, e in zip(SEEDS, bell, S, S_err, strict=True):
    d = r.to_dict()
    print(f"seed {seed}: S = {s:.3f} ± {e:.3f} from {d['coincidences']} coincidences "
          f"(z = {d['z_score']:.1f}, rigorous p = {d['p_value_rigorous']:.1e})")
    assert abs(s - S_model) <= SIGMAS * e    # the simulation agrees with the link model's S
print(f"\nours over {S.size} seeds: S = {S.mean():.3f} ± {S.std(ddof=1):.3f} (mean ± sd); "
      f"published {S_pub.value} ± {S_pub.tolerance} [P]")
print(f"link model: S = {S_model:.3f} with the tuned misalignment of {base_2017.link.misalignment_deg}°, "
      f"{S_untuned:.3f} without it")
assert abs(S.mean() - S_model) <= SIGMAS * S_err.mean() / math.sqrt(S.size)

fig, ax = plt.subplots(figsize=(6.5, 3.5))
ax.errorbar(SEEDS, S, yerr=S_err, fmt="o", capsize=4, label="simulated passes (±1σ)")
ax.axhspan(S_pub.value - S_pub.tolerance, S_pub.value + S_pub.tolerance, color="tab:green", alpha=0.2,
           label=f"published {S_pub.value} ± {S_pub.tolerance} [P]")
ax.axhline(S_model, color="black", lw=1, ls=":", label="link model (tuned [T])")
ax.axhline(S_untuned, color="tab:orange", lw=1, ls="-.", label="link model, no misalignment")
ax.axhline(2, color="tab:red", ls="--", label="classical bound")
ax.set_xlabel("seed")
ax.set_ylabel("S")
ax.set_title("micius-2017: CHSH over 1203 km")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The misalignment is not measured: a noisier 2017 link would explain the lower $S$ as well
# (if the background had not grown with the 2020 receivers' gain, i.e. scaled with the
# collecting area only, the untuned model would give $S \approx 2.28$). The published figures
# cannot tell the two apart; the preset picks one, marked [T].
#
# The 2020 figures as ratios to the published ones, with every row
# `qentangle.scenarios.compare` knows. The colour is the table's verdict on the link model
# (green inside the margin, orange a documented miss); the crosses are this one run, not judged:

# %%
fig = plot_pass_comparison(data)
plt.show()

# %% [markdown]
# ### Why not E91 on this link?
#
# E91 measures three settings per side, so only the matched setting pairs, about 2 in 9, give
# key bits, and it never measures the conjugate of its key bases: it estimates the QBER on a
# disclosed random sample of its key, and bounds Eve's information from a lower confidence
# bound on $S$ from the test rounds. Over 3100 s both are far too uncertain at
# $\varepsilon = 10^{-10}$: the QBER bound from a sample of ~150 bits lies far above the 11 %
# abort threshold, and the bound on $S$ from ~3000 test rounds stays below 2. So E91 yields no
# key at this count. This is not a bug; the run says why:

# %%
e91 = run_pass("micius-2020", seed=SEEDS[0], overrides=["protocol.kind=e91"]).to_dict()
key = e91["protocol_result"]
print(f"coincidences {e91['coincidences']}, sifted {e91['sifted_bits']} "
      f"({e91['sifted_bits'] / e91['coincidences']:.1%}), sample {key['qber_sample_bits']} bits, "
      f"QBER {e91['qber']:.3f}, upper bound {key['qber_upper']:.3f}")
print("aborted:", e91["aborted"], "-", e91["abort_reason"])
assert e91["aborted"] and e91["final_key_bits"] == 0

# %% [markdown]
# ## What if...
#
# Scenario fields can be overridden without editing a file, as `--set` does on the command
# line (`qentangle pass micius-2020 --set source.pair_rate_hz=1.18e7`). Two questions an
# experimenter would ask:
#
# 1. **A source twice as bright.** True coincidences are $B\,\eta_A\eta_B$: they double.
#    Accidental coincidences are products of the two stations' single counts,
#    $s_A s_B\tau$ with $s = B\eta + \text{background} + \text{dark}$: the photon part of each
#    station's singles doubles, the background does not, so accidentals grow by between two and
#    four times and the signal-to-noise ratio can only get worse.
# 2. **3 dB more loss on one link** (Nanshan's receiver optics halved, as they were in 2017):
#    true coincidences halve, while the background at the detectors stays.

# %%
base = load_scenario("micius-2020")
B = base.source.pair_rate_hz
eta_bob = base.bob.optics_efficiency
what_if = {
    "as published (preset)": [],
    "pair rate × 2": [f"source.pair_rate_hz={2 * B}"],
    "Nanshan optics -3 dB": [f"stations.bob.optics_efficiency={eta_bob / 2}"],
}
print(f"3 dB = optics efficiency × {10 ** (-3 / 10):.3f}; we halve it: {10 * math.log10(2):.2f} dB\n")
print(f"{'scenario':24} {'true Hz':>8} {'acc. Hz':>8} {'SNR':>6} {'QBER':>7} | simulated: "
      f"{'coinc.':>6} {'QBER':>7} {'final key':>9}")
model, simulated = {}, {}
for i, (label, overrides) in enumerate(what_if.items()):
    scenario_i = apply_overrides(base, overrides)
    model[label] = scenario_i.physics().summary(scenario_i.protocol.p_z)
    simulated[label] = run_pass(scenario_i, seed=200 + i).to_dict()
    m, s = model[label], simulated[label]
    print(f"{label:24} {m['true_coincidence_rate_hz']:8.3f} {m['accidental_rate_hz']:8.3f} {m['snr']:6.2f} "
          f"{m['qber']:7.4f} |            {s['coincidences']:6d} {s['qber']:7.4f} {s['final_key_bits']:9d}")

ref, bright, lossy = (model[k] for k in what_if)
ratio_true = bright["true_coincidence_rate_hz"] / ref["true_coincidence_rate_hz"]
ratio_acc = bright["accidental_rate_hz"] / ref["accidental_rate_hz"]
print(f"\npair rate × 2: true coincidences × {ratio_true:.4f}, accidentals × {ratio_acc:.3f}")
print(f"-3 dB on one link: true coincidences × "
      f"{lossy['true_coincidence_rate_hz'] / ref['true_coincidence_rate_hz']:.4f}")
assert math.isclose(ratio_true, 2.0, rel_tol=1e-9)
assert math.isclose(lossy["true_coincidence_rate_hz"] / ref["true_coincidence_rate_hz"], 0.5, rel_tol=1e-9)
assert 2.0 < ratio_acc <= 4.0
keys = {label: simulated[label]["final_key_bits"] for label in what_if}
print("final key bits (one simulated 3100 s run each): "
      + ", ".join(f"{label} {bits}" for label, bits in keys.items()))

# The simulated counts are Poisson draws around the link model's expectation.
for label in what_if:
    mean = model[label]["expected_coincidences"]
    assert abs(simulated[label]["coincidences"] - mean) <= SIGMAS * math.sqrt(mean), label

# %% [markdown]
# With the night background dominating the singles, a brighter source costs little in SNR and
# the key gains more than the factor of two in pairs: the finite-key penalty is nearly a fixed
# cost, so a longer block keeps a larger share. Losing 3 dB on one link is the opposite: half
# the signal over the same background lowers the SNR, raises the QBER, and a block of half the
# size pays the same fixed cost; the printed runs show what is left. (Each line is one seed:
# rerun with others to see the spread.)
#
# **Summary.** The presets are built from inputs whose sources are marked; five inputs are
# tuned to published figures (three of 2020, two of 2017) and are shown as such, and one rule
# sets every receiver's background. The comparison judges the deterministic link model
# against the published figures and shows the seed spread beside it: the untuned rates agree,
# the loss ranges and the finite key miss for stated reasons (the recalled loss ranges cannot
# share one definition; our finite-key bound is looser than the paper's). The same from the
# command line:
#
# ```
# qentangle pass micius-2020 --seed 1 --plot-dir out/micius-2020
# qentangle pass micius-2017 --seed 1 --json
# qentangle compare --seeds 8
# ```
