"""Projection math on synthetic and real data: quality, alignment, stability, clear errors, the registry."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_blobs
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from backend.projections import (
    PROJECTIONS,
    Projection,
    ProjectionError,
    UnknownProjection,
    align_to_reference,
    fit_similarity,
    get_projection,
    register_projection,
)
from backend.projections.neighbours import nearest_neighbours
from backend.projections.pca import fit_pca

pca, umap = get_projection("pca"), get_projection("umap")


@pytest.fixture(scope="session")
def warm_umap() -> None:
    """numba compiles umap-learn once per process (tens of seconds); every UMAP test shares it."""
    umap.warm_up()


def clustered_epochs(epochs: int = 3, points: int = 400, dims: int = 32) -> tuple[list, list, np.ndarray]:
    """Blobs that tighten epoch by epoch, like classes collapsing during training; plus class centers."""
    base, labels = make_blobs(n_samples=points, n_features=dims, centers=5, cluster_std=2.0, random_state=0)
    means = np.stack([base[labels == k].mean(axis=0) for k in range(5)])
    spread = base - means[labels]
    features = [(means[labels] + spread * (1 - 0.2 * epoch)).astype(np.float32) for epoch in range(epochs)]
    return features, [means.astype(np.float32)] * epochs, labels


def random_similarity_copy(layout: np.ndarray) -> np.ndarray:
    """``layout`` rotated, reflected, scaled and translated."""
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    reflection = np.diag([1.0, -1.0])
    return 3.5 * layout @ rotation @ reflection + np.array([10.0, -4.0])


@pytest.mark.parametrize("name", ["pca", "umap"])
def test_layouts_of_clustered_data_are_trustworthy(name: str, warm_umap: None) -> None:
    features, centers, labels = clustered_epochs()
    frames = get_projection(name).run_frames(features, centers)
    assert len(frames) == 3
    for index, frame in enumerate(frames):
        assert frame.points.shape == (400, 2) and frame.points.dtype == np.float32
        assert frame.centers.shape == (5, 2)
        assert frame.trustworthiness >= 0.9
        assert (frame.procrustes_residual is None) == (index == 0)
    last = frames[-1]
    class_means = np.stack([last.points[labels == k].mean(axis=0) for k in range(5)])
    nearest_class = np.linalg.norm(last.centers[:, None] - class_means[None], axis=2).argmin(axis=1)
    assert nearest_class.tolist() == list(range(5)), "each center lands on its own class's points"


def test_a_rotated_reflected_scaled_translated_copy_aligns_back() -> None:
    layout = np.random.default_rng(0).normal(size=(200, 2))
    similarity, residual = fit_similarity(random_similarity_copy(layout), layout)
    assert residual < 1e-10
    np.testing.assert_allclose(similarity.apply(random_similarity_copy(layout)), layout, atol=1e-4)
    assert fit_similarity(np.random.default_rng(1).normal(size=(200, 2)), layout)[1] > 0.5


def test_runs_are_aligned_by_one_transform_that_keeps_their_own_motion() -> None:
    rng = np.random.default_rng(0)
    reference = {epoch: rng.normal(size=(100, 2)) for epoch in (1, 2, 3)}
    other = {epoch: random_similarity_copy(points) for epoch, points in reference.items()}
    other[4] = random_similarity_copy(rng.normal(size=(100, 2)))
    similarity = align_to_reference({1: reference[1], 2: reference[2]}, other)
    for epoch in (1, 2, 3):
        np.testing.assert_allclose(similarity.apply(other[epoch]), reference[epoch], atol=1e-4)
    noisy = {epoch: points + rng.normal(scale=0.5, size=points.shape) for epoch, points in other.items()}
    aligned = {epoch: align_to_reference(reference, noisy).apply(points) for epoch, points in noisy.items()}
    for before, after in ((1, 2), (2, 3), (3, 4)):
        own_motion = fit_similarity(noisy[after], noisy[before])[1]
        assert fit_similarity(aligned[after], aligned[before])[1] == pytest.approx(own_motion, abs=1e-6)
    with pytest.raises(ProjectionError, match="no projected epoch in common"):
        align_to_reference({1: reference[1]}, {2: other[2]})


def test_warm_started_umap_moves_points_far_less_than_independent_umap(warm_umap: None) -> None:
    digits = load_digits()
    rows = np.random.default_rng(0).choice(len(digits.target), 600, replace=False)
    features, labels = digits.data[rows].astype(np.float32), digits.target[rows]
    centers = np.stack([features[labels == k].mean(axis=0) for k in range(10)])
    first = umap.frame(features, centers)
    warm, independent = [], []
    for seed in (1, 2):
        noise = np.random.default_rng(seed).normal(scale=0.01 * features.std(), size=features.shape)
        nearly_same = (features + noise).astype(np.float32)
        warm.append(umap.frame(nearly_same, centers, first.points).procrustes_residual)
        fresh = umap.frame(nearly_same, centers)
        independent.append(fit_similarity(fresh.points, first.points)[1])
    assert np.mean(independent) >= 3 * np.mean(warm), (warm, independent)


def test_fit_pca_streams_epochs_into_the_pca_of_all_of_them_stacked() -> None:
    features, _, _ = clustered_epochs(epochs=4)
    shifted = [epoch_features + 5.0 * index for index, epoch_features in enumerate(features)]
    basis = fit_pca(iter(shifted))
    reference = PCA(n_components=2).fit(np.concatenate(shifted))
    np.testing.assert_allclose(np.abs(basis.components @ reference.components_.T), np.eye(2), atol=1e-4)
    largest = np.abs(basis.components).argmax(axis=1)
    assert (basis.components[[0, 1], largest] > 0).all(), "sign convention: largest coefficient positive"
    assert np.array_equal(fit_pca(shifted[::-1]).transform(shifted[0]), basis.transform(shifted[0]))


def test_pca_frames_share_one_basis_and_report_residuals() -> None:
    features, centers, _ = clustered_epochs()
    frames = pca.run_frames(features, centers)
    basis = fit_pca(features)
    for frame, epoch_features, epoch_centers in zip(frames, features, centers):
        np.testing.assert_array_equal(frame.points, basis.transform(epoch_features))
        np.testing.assert_array_equal(frame.centers, basis.transform(epoch_centers))
    assert all(0 <= frame.procrustes_residual < 0.1 for frame in frames[1:])


def test_exact_nearest_neighbours_match_scikit_learn() -> None:
    features = np.random.default_rng(0).normal(size=(1500, 24)).astype(np.float32) + 50
    indices, distances = nearest_neighbours(features, 8)
    expected_distances, expected_indices = NearestNeighbors(n_neighbors=8).fit(features).kneighbors(features)
    assert (indices[:, 0] == np.arange(1500)).all() and (distances[:, 0] == 0).all()
    assert (indices == expected_indices).mean() > 0.999
    np.testing.assert_allclose(distances, expected_distances, atol=1e-2)


def test_too_few_or_broken_inputs_raise_one_line_reasons(warm_umap: None) -> None:
    few = np.random.default_rng(0).normal(size=(10, 8)).astype(np.float32)
    with pytest.raises(ProjectionError, match="more probe points than n_neighbors=15; this run has 10"):
        umap.frame(few, few[:2])
    broken = few.copy()
    broken[3, 3] = np.inf
    with pytest.raises(ProjectionError, match="NaN or infinite"):
        pca.frame(broken, few[:2], None, fit_pca([few]))
    with pytest.raises(ProjectionError, match="at least one epoch"):
        fit_pca([broken])
    with pytest.raises(ProjectionError, match="need one or more epochs"):
        umap.run_frames([], [])
    with pytest.raises(ProjectionError, match="do not fit"):
        pca.frame(few, few[:2, :4], None, fit_pca([few]))
    with pytest.raises(ProjectionError, match=r"previous layout has shape \(9, 2\), expected \(10, 2\)"):
        pca.frame(few, few[:2], few[:9, :2])
    small = pca.run_frames([few], [few[:2]])[0]
    assert small.points.shape == (10, 2) and small.trustworthiness is not None


def test_the_registry_lists_pca_first_and_names_what_it_has() -> None:
    assert list(PROJECTIONS)[:2] == ["pca", "umap"]
    assert (pca.linear, umap.linear, umap.aligned) == (True, False, True)
    with pytest.raises(UnknownProjection, match=r"unknown projection 'tsne' \(choose from pca, umap"):
        get_projection("tsne")


def test_a_new_projection_is_one_class_and_gets_residuals_trustworthiness_and_hashes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("backend.projections.registry.PROJECTIONS", dict(PROJECTIONS))

    @register_projection
    class Reversed(Projection):
        name, label, description = "reversed", "Reversed", "the last two feature dimensions"

        def layout(self, features, centers, previous, fitted):
            return features[:, -2:], centers[:, -2:]

    features, centers, _ = clustered_epochs()
    frames = get_projection("reversed").run_frames(features, centers)
    np.testing.assert_array_equal(frames[1].points, features[1][:, -2:])
    assert frames[0].procrustes_residual is None and 0 <= frames[1].procrustes_residual < 1
    assert 0 < frames[1].trustworthiness <= 1
    chain = get_projection("reversed").input_hashes(1, [1, 2, 3], finished=False)
    assert chain[2] == get_projection("reversed").input_hashes(1, [1, 2], finished=True)[2]
    assert chain[2] != get_projection("reversed").input_hashes(1, [0, 2], finished=True)[2], "a chain"
    with pytest.raises(ValueError, match="already registered"):
        register_projection(type("Other", (Reversed,), {}))
    with pytest.raises(TypeError, match="needs a non-empty string 'label'"):
        register_projection(type("Unlabelled", (Reversed,), {"name": "unlabelled", "label": ""}))
