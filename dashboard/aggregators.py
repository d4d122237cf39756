"""The Agreement page's table of the aggregators side by side: accuracy, its counts and interval per reference."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import widgets


def aggregator_table(comp: pd.DataFrame, refs: list[str]) -> None:
    """The aggregators side by side: per reference, accuracy, its counts and its interval (the
    frame keeps every figure; the columns shown are the readable ones)."""
    names = {"golden": "control", "truth": "truth"}
    cfg = {
        "method": st.column_config.TextColumn("aggregator", pinned=True),
        "tasks labeled": st.column_config.NumberColumn("tasks", format="%d", width="small", help="tasks labeled"),
        "tied": st.column_config.NumberColumn("ties", format="%d", width="small", help="tasks the tie rule decided"),
        "seconds": st.column_config.NumberColumn("time", format="%.2f s", width="small"),
        "labels ≠ majority vote": st.column_config.NumberColumn(
            "≠ MV", format="%d", width="small", help="tasks labeled otherwise than by majority vote"
        ),
    }
    order = [c for c in cfg if c in comp]
    shown = comp.copy()
    for ref in refs:
        n = names[ref]
        if f"{ref}: accuracy" not in shown or shown[f"{ref}: accuracy"].isna().all():
            continue  # nothing to judge on: said below the table, not as a column of dashes
        shown[f"{ref}: 95 % CI"] = [
            "" if lo != lo else f"{100 * lo:.1f}–{100 * hi:.1f} %"
            for lo, hi in zip(shown[f"{ref}: 95 % CI low"], shown[f"{ref}: 95 % CI high"], strict=True)
        ]
        shown[f"{ref}: counts"] = [
            "" if k != k else f"{int(k):,} of {int(t):,}"
            for k, t in zip(shown[f"{ref}: correct"], shown[f"{ref}: tasks"], strict=True)
        ]
        ref_cfg = {
            f"{ref}: accuracy": st.column_config.NumberColumn(f"{n} accuracy", format="percent"),
            f"{ref}: counts": st.column_config.TextColumn(f"{n} right", help="tasks labeled right of those judged"),
            f"{ref}: 95 % CI": st.column_config.TextColumn(f"{n} 95 % CI", help="Wilson interval"),
        }
        if shown["tied"].gt(0).any():  # without ties both readings equal the accuracy
            ref_cfg |= {
                f"{ref}: ties counted wrong": st.column_config.NumberColumn(
                    f"{n}, ties wrong",
                    format="percent",
                    width="small",
                    help="accuracy if every tied task counted wrong",
                ),
                f"{ref}: ties at random": st.column_config.NumberColumn(
                    f"{n}, ties random",
                    format="percent",
                    width="small",
                    help="expected accuracy if ties were broken at random",
                ),
            }
        cfg |= ref_cfg
        order += list(ref_cfg)
    st.dataframe(
        shown, hide_index=True, width="stretch", column_config=cfg, column_order=order, placeholder=widgets.EMPTY_CELL
    )
