"""The decoder's least-squares refit: it lowers the reconstruction error of a perturbed SAE on a
small synthetic problem, keeps the codes (without renormalising) or unit decoder rows (with),
leaves a latent that never fired as it was, and the refit SAE saves and loads in SAELens' format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.sae import HookSite, SparseAutoencoder, load_sae, save_sae
from engine.sae.refit import refit_decoder

D_IN, D_SAE, K, N = 24, 96, 4, 6000


def _problem() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Inputs built from K of D_SAE unit directions plus an offset, and an SAE whose decoder is
    those directions perturbed (its encoder their transpose)."""
    gen = torch.Generator().manual_seed(0)
    true = torch.nn.functional.normalize(torch.randn(D_SAE, D_IN, generator=gen), dim=-1)
    codes = torch.zeros(N, D_SAE).scatter_(
        1, torch.randint(0, D_SAE, (N, K), generator=gen), 0.5 + torch.rand(N, K, generator=gen)
    )
    x = codes @ true + 0.3
    w = torch.nn.functional.normalize(true + 0.3 * torch.randn(D_SAE, D_IN, generator=gen), dim=-1)
    w[-1] = torch.nn.functional.normalize(-x.mean(0), dim=0)  # points away from every input: never fires
    params = {"W_enc": w.t().clone(), "b_enc": torch.zeros(D_SAE), "W_dec": w.clone(), "b_dec": x.mean(0)}
    params["b_enc"][-1] = -100.0
    return x, params


def _encode(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    pre = (x - params["b_dec"]) @ params["W_enc"] + params["b_enc"]
    vals, idx = pre.topk(K, dim=-1)
    return torch.zeros_like(pre).scatter(-1, idx, vals.relu())


def _fvu(params: dict[str, torch.Tensor], x: torch.Tensor) -> float:
    x_hat = _encode(params, x) @ params["W_dec"] + params["b_dec"]
    return float((x_hat - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum())


def _refit(params: dict[str, torch.Tensor], x: torch.Tensor, renormalise: bool) -> dict[str, torch.Tensor]:
    out = {name: t.clone() for name, t in params.items()}
    before, after = refit_decoder(out, x.split(1000), K, renormalise=renormalise)
    # The FVUs it reports from its statistics are those measured directly (same codes).
    assert before == pytest.approx(_fvu(params, x), rel=1e-4)
    if not renormalise:
        assert after == pytest.approx(_fvu(out, x), rel=1e-4)
    return out


def test_the_refit_lowers_the_error_and_keeps_the_codes() -> None:
    x, params = _problem()
    before = _fvu(params, x)
    refit = _refit(params, x, renormalise=False)
    assert _fvu(refit, x) < 0.8 * before, (before, _fvu(refit, x))
    # b_enc took b_dec's change: every token chooses the same latents with the same values.
    torch.testing.assert_close(_encode(refit, x), _encode(params, x), atol=1e-4, rtol=1e-4)
    # A latent that never fired keeps its trained decoder row (the ridge pulls toward it).
    torch.testing.assert_close(refit["W_dec"][-1], params["W_dec"][-1])


def test_renormalised_rows_are_unit_and_the_error_still_drops() -> None:
    x, params = _problem()
    refit = _refit(params, x, renormalise=True)
    torch.testing.assert_close(refit["W_dec"].norm(dim=-1), torch.ones(D_SAE))
    assert _fvu(refit, x) < 0.8 * _fvu(params, x)


def test_a_refit_sae_saves_and_loads_in_saelens_format(tmp_path: Path) -> None:
    x, params = _problem()
    refit = _refit(params, x, renormalise=True)
    sae = SparseAutoencoder(D_IN, D_SAE, K, HookSite(0), meta={"model_name": "synthetic"})
    with torch.no_grad():
        for name, value in refit.items():
            getattr(sae, name).copy_(value)
    save_sae(sae, tmp_path)
    loaded = load_sae(tmp_path)
    assert (loaded.architecture, loaded.k) == ("topk", K)
    torch.testing.assert_close(loaded(x[:100]), sae(x[:100]))
    assert float((loaded(x) - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum()) < 0.8 * _fvu(params, x)
