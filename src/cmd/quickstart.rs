//! `vouch quickstart`: the README's main job. Runs the whole story end to end on
//! embedded defaults (`vouch-quickstart`), in a temporary directory, by invoking the real
//! subcommands as a user would, and prints its narration (each command before it runs)
//! or, with `--json`, what every step observed.

use anyhow::Context;
use vouch_quickstart::{Event, Quickstart, Step};

use crate::output::{answer, outln, Exit};

/// Run the whole story on embedded defaults: a dev server, a trusted publisher, a
/// publish from "CI" with a dev OIDC token, a verified fetch into vouch.lock, the
/// signature and transparency audits, a refused publish from another workflow
/// (PUB_E006), the log's proofs, a real Sigstore bundle and a sealed release.
///
/// Everything happens in a fresh temporary directory (removed at the end unless
/// --keep). Exit 0 only if every step checked out.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Leave the server running (and the directory in place) after the demo; stop it
    /// with Ctrl-C.
    #[arg(long)]
    keep: bool,
    /// Print one JSON object summarising the steps instead of the narration.
    #[arg(long)]
    json: bool,
}

/// Prints one narration event; a closed stdout is ignored here (the story goes on and
/// its server is stopped) and surfaces at the final line.
fn narrate(json: bool) -> impl FnMut(Event) {
    move |event| {
        let _ = match event {
            _ if json => Ok(()),
            Event::Say(text) => outln!("{text}"),
            Event::Command(line) => outln!("  $ {line}"),
            Event::Output(text) => text.lines().try_for_each(|l| outln!("    {l}")),
        };
    }
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let exe = std::env::current_exe().context("locating the vouch binary")?;
    let mut say = narrate(args.json);
    let mut qs = Quickstart::start(exe, &mut say)?;
    let result = qs.run(&mut say);
    if args.keep && result.is_ok() {
        let (url, dir) = (qs.url().to_owned(), qs.dir().display().to_string());
        say(Event::Say(format!(
            "\nThe server keeps running at {url} with its data in {dir}. Ctrl-C stops it."
        )));
        qs.keep_until_stopped();
    } else {
        qs.stop();
    }
    let steps = result?;
    let text = [String::new(), "All checks held.".to_owned()];
    answer(args.json, &Step::summary_json(&steps), &text)
}
