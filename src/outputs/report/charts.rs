//! The report's two charts as geometry (bars with positions and labels); the template
//! draws them as inline SVG, escaping every label.

use serde::Serialize;
use serde_json::{Map, Value};

/// Seconds as a person reads them: 45 s, 3 min, 1.5 h.
pub fn duration(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 5400.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// One decimal is plenty for SVG coordinates, and keeps the page free of long digit
/// runs that look like numbers to mask.
fn tenth(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[derive(Debug, Serialize)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub label: String,
    pub value: String,
    /// ok, late or none: the colour.
    pub tone: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub bars: Vec<Bar>,
    /// The previous week's mean per bar, as an SVG polyline's points.
    pub baseline: String,
    pub max_label: String,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
const BOTTOM: f64 = 20.0;

fn number(row: &Map<String, Value>, key: &str) -> f64 {
    row.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// Customer messages per hour, bars, with the previous week's mean as a line.
pub fn volume_by_hour(rows: &[Map<String, Value>]) -> Chart {
    let peak = rows
        .iter()
        .map(|r| number(r, "messages").max(number(r, "previous_7_days_mean")))
        .fold(1.0, f64::max);
    let slot = WIDTH / 24.0;
    let scale = (HEIGHT - BOTTOM - 10.0) / peak;
    let mut points = Vec::new();
    let bars = rows
        .iter()
        .map(|row| {
            let hour = number(row, "hour");
            let messages = number(row, "messages");
            let height = messages * scale;
            let x = hour * slot;
            points.push(format!(
                "{:.1},{:.1}",
                x + slot / 2.0,
                HEIGHT - BOTTOM - number(row, "previous_7_days_mean") * scale
            ));
            Bar {
                x: tenth(x + 2.0),
                y: tenth(HEIGHT - BOTTOM - height),
                width: tenth(slot - 4.0),
                height: tenth(height),
                label: format!("{hour:02.0}"),
                value: format!("{messages:.0}"),
                tone: "ok",
            }
        })
        .collect();
    Chart {
        width: WIDTH,
        height: HEIGHT,
        bars,
        baseline: points.join(" "),
        max_label: format!("{peak:.0}"),
    }
}

/// Sessions by first-response band; bands within the target are green, later ones
/// amber, no reply red.
pub fn first_response(rows: &[Map<String, Value>], target_s: i64) -> Chart {
    let peak = rows
        .iter()
        .map(|r| number(r, "sessions"))
        .fold(1.0, f64::max);
    let slot = WIDTH / rows.len().max(1) as f64;
    let scale = (HEIGHT - BOTTOM - 22.0) / peak;
    let bars = rows
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let sessions = number(row, "sessions");
            let height = sessions * scale;
            let high = row.get("high_s").and_then(Value::as_f64);
            let low = row.get("low_s").and_then(Value::as_f64);
            let tone = match (low, high) {
                (None, None) => "none",
                (_, Some(high)) if high <= target_s as f64 => "ok",
                _ => "late",
            };
            Bar {
                x: tenth(index as f64 * slot + 4.0),
                y: tenth(HEIGHT - BOTTOM - height),
                width: tenth(slot - 8.0),
                height: tenth(height),
                label: row
                    .get("label")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                value: format!("{sessions:.0}"),
                tone,
            }
        })
        .collect();
    Chart {
        width: WIDTH,
        height: HEIGHT,
        bars,
        baseline: String::new(),
        max_label: format!("{peak:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_says_them() {
        assert_eq!(duration(45.0), "45 s");
        assert_eq!(duration(200.0), "3 min");
        assert_eq!(duration(35_235.8), "9.8 h");
    }
}
