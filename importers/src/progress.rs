//! Progress bars for long imports: count, rate and ETA on a terminal, nothing otherwise
//! (logs and CI get the summary line instead).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub fn bar(total: Option<u64>, unit: &str, show: bool) -> ProgressBar {
    let pb = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if !show {
        pb.set_draw_target(ProgressDrawTarget::hidden());
        return pb;
    }
    let template = if total.is_some() {
        format!("{{spinner}} {{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, eta {{eta}})")
    } else {
        format!("{{spinner}} {{msg}} {{human_pos}} {unit} ({{per_sec}})")
    };
    pb.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    pb.set_draw_target(ProgressDrawTarget::stderr_with_hz(5));
    pb
}
