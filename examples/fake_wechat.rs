//! The tests' fake WeChat API as a dev server, to run `kefu pull` / `kefu tags push`
//! against by hand:
//!
//! ```text
//! cargo run --example fake_wechat -- [PORT | 127.0.0.1:PORT] [--followers N] [--records N]
//! KEFU_WECHAT_API_BASE=http://127.0.0.1:9777 kefu pull --from … --to …
//! ```
//!
//! appid and secret come from `KEFU_WECHAT_APPID` / `KEFU_WECHAT_SECRET` (defaults
//! `wxfake0000000001` / `fake-secret-0001`), so the same environment serves both sides.
//! `--followers N` adds the openids `o_fake_00001…`; `--records N` adds N chat records
//! spread over the last three days, between those followers and two agents. Every call is
//! printed with its errcode. Ctrl-C stops it.

#[path = "../tests/fake_wechat/mod.rs"]
mod fake_wechat;

use std::net::SocketAddr;
use std::time::Duration;

use fake_wechat::{FakeConfig, FakeWechat, Record};

const USAGE: &str = "usage: fake_wechat [PORT | 127.0.0.1:PORT] [--followers N] [--records N]";

fn main() {
    if let Err(message) = run() {
        eprintln!("fake_wechat: {message}\n{USAGE}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 9777));
    let mut followers = 0usize;
    let mut records = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut count = |name: &str| -> Result<usize, String> {
            let value = args.next().ok_or(format!("{name} needs a number"))?;
            value
                .parse()
                .map_err(|_| format!("{name}: not a number: {value}"))
        };
        match arg.as_str() {
            "--followers" => followers = count("--followers")?,
            "--records" => records = count("--records")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => addr = parse_addr(other)?,
        }
    }

    let defaults = FakeConfig::default();
    let config = FakeConfig {
        appid: std::env::var("KEFU_WECHAT_APPID").unwrap_or(defaults.appid.clone()),
        secret: std::env::var("KEFU_WECHAT_SECRET").unwrap_or(defaults.secret.clone()),
        ..defaults.clone()
    };
    let secret_source = if config.secret == defaults.secret {
        "the default secret"
    } else {
        "the secret from KEFU_WECHAT_SECRET"
    };
    let appid = config.appid.clone();
    let fake = FakeWechat::start_on(config, addr);
    let openids: Vec<String> = (1..=followers).map(|n| format!("o_fake_{n:05}")).collect();
    fake.add_followers(openids.clone());
    fake.add_records(chat_records(records, &openids));
    println!(
        "fake WeChat on {} for appid {appid} with {secret_source}: {followers} follower(s), {records} record(s)",
        fake.base_url
    );
    println!("  KEFU_WECHAT_API_BASE={}", fake.base_url);

    // Print the calls as they come; never the query or body of a token call (secret).
    let mut printed = 0;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let calls = fake.calls();
        for call in &calls[printed..] {
            let detail = if call.path.contains("token") {
                String::new()
            } else {
                let body = call.body.to_string();
                let cut: String = body.chars().take(120).collect();
                if cut.len() < body.len() {
                    format!(" {cut}…")
                } else {
                    format!(" {cut}")
                }
            };
            println!("{} -> {}{detail}", call.path, call.errcode);
        }
        printed = calls.len();
    }
}

/// A port, or `127.0.0.1:PORT` / `localhost:PORT`: the fake listens on 127.0.0.1 only.
fn parse_addr(arg: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = arg.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let parsed = match arg.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}").parse::<SocketAddr>(),
        None => arg.parse::<SocketAddr>(),
    };
    match parsed {
        Ok(addr) if addr.ip() == std::net::Ipv4Addr::LOCALHOST => Ok(addr),
        Ok(addr) => Err(format!("{addr}: the fake listens on 127.0.0.1 only")),
        Err(_) => Err(format!("{arg}: not a port or 127.0.0.1:PORT")),
    }
}

/// `n` records over the 72 hours before now: a user asks, an agent answers 30 s later.
fn chat_records(n: usize, followers: &[String]) -> Vec<Record> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let start = now - 3 * 86_400;
    (0..n as i64)
        .map(|k| {
            let pair = k / 2;
            let openid = match followers.len() {
                0 => format!("o_fake_{:05}", pair % 500 + 1),
                len => followers[pair as usize % len].clone(),
            };
            let asked = start + pair * 2 * (3 * 86_400 - 60) / (n as i64).max(1);
            let worker = format!("kf200{}@gh_fake", pair % 2 + 1);
            if k % 2 == 0 {
                Record {
                    openid,
                    opercode: 2003,
                    text: format!("请问订单{pair}什么时候发货？"),
                    time: asked,
                    worker,
                }
            } else {
                Record {
                    openid,
                    opercode: 2002,
                    text: format!("您好，订单{pair}今天下午发出"),
                    time: asked + 30,
                    worker,
                }
            }
        })
        .collect()
}
