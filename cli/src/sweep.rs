//! `rayblas sweep`: GFLOP/s (or GB/s) against block size, one line per strategy; writes
//! `sweep.csv` and `sweep.svg` into the output directory.

use crate::measure::{self, Row};
use crate::report::{self, Format};
use crate::workload::uses_block;
use crate::workload::WorkloadArgs;
use crate::{check_strategies, context, measure_interleaved, provenance, split_list, Failure};
use plotters::prelude::*;
use std::path::Path;

fn parse_counts(what: &str, s: &str) -> Result<Vec<String>, Failure> {
    if s.trim().is_empty() {
        return Err(format!("--{what} needs at least one value").into());
    }
    split_list(&format!("--{what}"), s)
}

/// Expands strategy templates over worker counts. `native` expands only to thread counts the
/// library accepts (the reference BLAS has one thread); the ones left out are named on stderr.
fn expand(templates: &[String], workers: &[usize]) -> Vec<String> {
    let max = rayblas::blas::info().max_threads;
    let mut out = Vec::new();
    for t in templates {
        match t.as_str() {
            "native" => {
                let (ok, skipped): (Vec<usize>, Vec<usize>) =
                    workers.iter().partition(|&&w| w <= max);
                if !skipped.is_empty() {
                    eprintln!("rayblas: sweep: the {} backend allows at most {max} threads; leaving out native:{skipped:?}", rayblas::blas::BACKEND);
                }
                out.extend(ok.iter().map(|w| format!("native:{w}")));
            }
            "blocked" => out.extend(workers.iter().map(|w| format!("blocked:{w}"))),
            "blocked+pin" => out.extend(workers.iter().map(|w| format!("blocked:{w}+pin"))),
            other => out.push(other.to_string()),
        }
    }
    out.dedup();
    out
}

pub fn run(
    w: &WorkloadArgs,
    blocks: &str,
    workers: &str,
    strategies: &str,
    out: &Path,
    format: Format,
) -> Result<(), Failure> {
    w.validate()?;
    let blocks = parse_counts("blocks", blocks)?;
    for b in &blocks {
        b.parse::<rayblas::BlockShape>()?;
    }
    let workers: Vec<usize> = parse_counts("workers", workers)?
        .iter()
        .map(|x| match x.parse::<usize>() {
            Ok(0) | Err(_) => Err(Failure(
                format!("--workers takes positive integers, got `{x}`"),
                2,
            )),
            Ok(n) => Ok(n),
        })
        .collect::<Result<_, _>>()?;
    let templates = parse_counts("strategies", strategies)?;
    w.check_used(&templates, true)?;
    if !w.op.is_product() {
        return Err(format!(
            "sweep varies the block size, which {} does not use (it is split by rows); use compare",
            w.op.name()
        )
        .into());
    }
    let list = expand(&templates, &workers);
    check_strategies(&list)?;
    crate::check_run(w, &list)?;
    // Strategies that make one call over the whole operands (native) do not depend on the
    // block: they are measured once and drawn as a horizontal line.
    let mut configs = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        for s in &list {
            if i > 0 && !uses_block(s) {
                continue;
            }
            let mut wl = w.clone();
            wl.block = Some(b.clone());
            configs.push((s.clone(), wl));
        }
    }
    let blocks_text = format!(" blocks {}", blocks.join(","));
    if crate::stop_for_dry_run(w, &list, &blocks_text, configs.len() * w.repeat) {
        return Ok(());
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut ctx = context(w)?;
    let results = measure_interleaved(w, &configs)?;
    ctx.provenance = provenance::gather();
    let mut rows: Vec<Row> = configs
        .iter()
        .zip(&results)
        .map(|((s, wl), runs)| measure::aggregate(wl, s, runs, &ctx))
        .collect();
    let agree = measure::finish(&mut rows);
    let csv_path = out.join("sweep.csv");
    std::fs::write(&csv_path, report::csv(&rows))
        .map_err(|e| format!("{}: {e}", csv_path.display()))?;
    let svg_path = out.join("sweep.svg");
    plot(&rows, &list, &svg_path).map_err(|e| format!("{}: {e}", svg_path.display()))?;
    report::print(&rows, format);
    eprintln!(
        "rayblas: wrote {} and {}",
        csv_path.display(),
        svg_path.display()
    );
    if !agree {
        return Err(Failure(
            format!("wrong results from: {}", measure::wrong_rows(&rows)),
            1,
        ));
    }
    Ok(())
}

fn block_side(b: &str) -> f64 {
    b.parse::<rayblas::BlockShape>()
        .map(|s| s.rows as f64)
        .unwrap_or(0.0)
}

fn plot(
    rows: &[Row],
    strategies: &[String],
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let product = rows.first().is_some_and(|r| r.gflops.is_some());
    let rate = |r: &Row| r.gflops.or(r.gbps).unwrap_or(0.0);
    let x_max = rows
        .iter()
        .filter(|r| r.uses_block)
        .map(|r| block_side(&r.block))
        .fold(1.0, f64::max)
        * 1.1;
    let y_max = rows.iter().map(rate).fold(1.0, f64::max) * 1.15;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let first = &rows[0];
    let title = format!(
        "{} {} m={} k={} n={} ({}, {})",
        first.op,
        first.dtype,
        first.m,
        first.k,
        first.n,
        first.provenance.backend,
        first.provenance.corename
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("block size (rows)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc(if product { "GFLOP/s" } else { "GB/s" })
        .draw()?;
    for (i, s) in strategies.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let mine: Vec<&Row> = rows.iter().filter(|r| &r.strategy == s).collect();
        if let [one] = mine[..] {
            if !one.uses_block {
                // Measured once: a dashed line across all block sizes.
                let y = rate(one);
                chart
                    .draw_series(DashedLineSeries::new(
                        [(0.0, y), (x_max, y)],
                        8,
                        6,
                        color.stroke_width(2),
                    ))?
                    .label(format!("{s} (no blocks)"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                continue;
            }
        }
        let mut pts: Vec<(f64, f64)> = mine
            .iter()
            .map(|r| (block_side(&r.block), rate(r)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(s.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
