//! The reports' charts, drawn by plotters into inline SVG (its SVG backend lays text out
//! without a font stack: the page stays one offline file).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const SIZE: (u32, u32) = (640, 240);

/// Colours of the series, in order.
const COLOURS: [RGBColor; 3] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
];

/// How the x axis is labelled: `max` its end, `labels` how many labels, `label` the text at a
/// position.
pub struct XAxis<'a> {
    pub max: f64,
    pub labels: usize,
    pub name: &'a str,
    pub label: &'a dyn Fn(&f64) -> String,
}

/// A line chart of named series (a legend when they are named), y from 0, as inline SVG.
pub fn lines(series: &[(&str, &[(f64, f64)])], x: &XAxis<'_>, y_name: &str) -> String {
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let y_max = finite_max(all.map(|p| p.1)) * 1.1;
    let mut svg = String::new();
    let drawn = draw_lines(&mut svg, series, x, y_name, y_max.max(1e-6));
    if let Err(e) = drawn {
        return format!("<p>chart not drawn: {e}</p>");
    }
    svg
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// The largest value a chart shows: plotters' tick search never ends on an infinite range,
/// and its pixel arithmetic overflows far below `f64::MAX`.
const CAP: f64 = 1e12;

/// The largest finite value (at least a tiny positive one), at most [`CAP`].
fn finite_max(values: impl Iterator<Item = f64>) -> f64 {
    values
        .filter(|v| v.is_finite())
        .fold(1e-9, f64::max)
        .min(CAP)
}

/// A point as shown on axes ending at `x_max` and `y_max`: finite ones within the x axis,
/// at most `y_max` high (plotters' pixel arithmetic overflows on points far outside).
fn shown((x, y): (f64, f64), x_max: f64, y_max: f64) -> Option<(f64, f64)> {
    let inside = x.is_finite() && y.is_finite() && (0.0..=x_max).contains(&x);
    inside.then(|| (x, y.clamp(0.0, y_max)))
}

fn draw_lines(
    svg: &mut String,
    series: &[(&str, &[(f64, f64)])],
    x: &XAxis<'_>,
    y_name: &str,
    y_max: f64,
) -> Drawn {
    let x_max = finite_max([x.max].into_iter());
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .margin_right(32)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_labels(x.labels)
        .y_labels(5)
        .x_label_formatter(x.label)
        .y_label_formatter(&|v: &f64| format!("{v:.1}"))
        .x_desc(x.name)
        .y_desc(y_name)
        .draw()?;
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let visible = points.iter().filter_map(|p| shown(*p, x_max, y_max));
        let line = LineSeries::new(visible, colour.stroke_width(2));
        let drawn = chart.draw_series(line)?;
        if !name.is_empty() {
            drawn
                .label(*name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
        }
    }
    if series.iter().any(|(name, _)| !name.is_empty()) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// A bar per value, labelled `first`, `first + 1`, ... under the x axis (named `x_name`) and
/// with its value above it; the y axis named `y_name`.
pub fn bars(values: &[f64], first: u32, x_name: &str, y_name: &str, unit: &str) -> String {
    let mut svg = String::new();
    let width = (80 + 60 * values.len()).clamp(240, 1200) as u32;
    if let Err(e) = draw_bars(&mut svg, values, first, (x_name, y_name, unit), width) {
        return format!("<p>chart not drawn: {e}</p>");
    }
    svg
}

fn draw_bars(
    svg: &mut String,
    values: &[f64],
    first: u32,
    (x_name, y_name, unit): (&str, &str, &str),
    width: u32,
) -> Drawn {
    let max = finite_max(values.iter().copied()).max(1.0) * 1.15;
    // A segmented range holds its end as a segment too.
    let n = u32::try_from(values.len()).unwrap_or(u32::MAX);
    let last = first.saturating_add(n.saturating_sub(1));
    let root = SVGBackend::with_string(svg, (width, 220)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d((first..last).into_segmented(), 0f64..max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => i.to_string(),
            SegmentValue::Last => String::new(),
        })
        .light_line_style(WHITE.mix(0.0))
        .y_labels(4)
        .y_label_formatter(&|v: &f64| format!("{v:.0} {unit}"))
        .x_desc(x_name)
        .y_desc(y_name)
        .draw()?;
    let bar = COLOURS[0].mix(0.85).filled();
    let values = values
        .iter()
        .map(|v| if v.is_finite() { v.min(CAP) } else { 0.0 });
    let points = (first..).zip(values);
    chart.draw_series(
        Histogram::vertical(&chart)
            .style(bar)
            .margin(8)
            .data(points.clone()),
    )?;
    let labels = points.map(|(i, v)| {
        let style = TextStyle::from(("sans-serif", 11)).pos(Pos::new(HPos::Center, VPos::Bottom));
        Text::new(
            format!("{v:.0} {unit}"),
            (SegmentValue::CenterOf(i), v),
            style,
        )
    });
    chart.draw_series(labels)?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(v: &f64) -> String {
        format!("{v:.0} s")
    }

    fn time(max: f64) -> XAxis<'static> {
        XAxis {
            max,
            labels: 3,
            name: "time",
            label: &seconds,
        }
    }

    #[test]
    fn lines_draw_every_series_with_a_legend_and_escape_names() {
        let a = [(0.0, 1.0), (1.0, 3.0)];
        let svg = lines(&[("a<b", &a), ("p99", &a)], &time(1.0), "ms");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"), "{svg}");
        assert!(svg.contains("p99") && svg.contains("1 s"));
    }

    #[test]
    fn bars_label_each_value_and_attempt() {
        let svg = bars(&[1000.0, 2000.0, 4000.0], 2, "attempt", "wait", "ms");
        for label in ["1000 ms", "2000 ms", "4000 ms"] {
            assert!(svg.contains(label), "{label}: {svg}");
        }
        assert_eq!(
            svg.matches("<rect").count(),
            1 + 3,
            "background and three bars"
        );
        assert!(
            svg.contains("\n4\n</text>") && !svg.contains("\n5\n</text>"),
            "attempts 2-4"
        );
    }

    #[test]
    fn nothing_to_draw_is_still_a_chart() {
        assert!(lines(&[("", &[])], &time(0.0), "y").starts_with("<svg"));
        assert!(bars(&[], 2, "attempt", "wait", "ms").starts_with("<svg"));
    }

    #[test]
    fn values_that_are_not_finite_neither_hang_nor_break_a_chart() {
        let odd = [
            (0.0, f64::INFINITY),
            (1.0, f64::NAN),
            (2.0, f64::MAX),
            (3.0, 1.0),
        ];
        assert!(lines(&[("", &odd)], &time(f64::INFINITY), "ms").ends_with("</svg>\n"));
        let svg = bars(&[f64::INFINITY, f64::NAN, 5.0], 2, "attempt", "wait", "ms");
        assert!(svg.contains("5 ms"), "{svg}");
    }
}
