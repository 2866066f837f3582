//! In-process cost of the contract's per-request work: signing, verifying over the raw
//! body and over the escaped form, parsing a realistic payload, and building the reply.
//!
//! Run: `cargo bench -p webhook-contract`. The realistic payload is about 1.5 KB with 10
//! history entries, like the load of `cargo xtask bench`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use webhook_contract::{
    App, Event, HistoryEntry, JsonReply, Message, MessageReceived, Secret, Thread, Verifier,
    parse_event, sign, sign_escaped,
};

const TIMESTAMP: &str = "1796400000";
const NOW: u64 = 1_796_400_000;

fn realistic_body(content: &str, history_content: &str) -> Vec<u8> {
    let history_tail = (0..10)
        .map(|index| HistoryEntry {
            role: Some(if index % 2 == 0 { "user" } else { "assistant" }.to_owned()),
            content: Some(format!("{history_content} {index}")),
            content_json: Some(serde_json::json!({})),
        })
        .collect();
    let event = MessageReceived {
        version: "1.0".to_owned(),
        app: App {
            id: Some("0b6f3a5e-2d4c-4f7a-9e1b-8c2d3e4f5a6b".to_owned()),
            name: Some("Support bot".to_owned()),
        },
        thread: Thread {
            id: Some("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d".to_owned()),
            customer_id: Some("customer-4711".to_owned()),
        },
        message: Message {
            id: Some("5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c".to_owned()),
            seq: Some(21),
            role: Some("user".to_owned()),
            content: content.to_owned(),
            content_json: Some(serde_json::json!({})),
        },
        history_tail,
        timestamp: Some("2026-12-04T12:00:00.123456+00:00".to_owned()),
    };
    event.to_json().into_bytes()
}

/// The work a server does for one signed request after reading the body.
fn handle(verifier: &Verifier, signature: &str, body: &[u8]) -> String {
    verifier
        .verify_at([TIMESTAMP.as_bytes()], [signature.as_bytes()], body, NOW)
        .ok();
    match parse_event(body) {
        Ok(Event::MessageReceived(event)) => {
            JsonReply::new(format!("Echo: {}", event.message.content)).to_json()
        }
        _ => String::new(),
    }
}

fn benches(criterion: &mut Criterion) {
    let secret = Secret::new("7d5e3c1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d");
    let verifier = Verifier::new(secret.clone());

    let ascii = realistic_body(
        "Where is my order 42? It was due yesterday.",
        "An earlier message about the order and its delivery window, long enough to be realistic",
    );
    let ascii_signature = sign(&secret, TIMESTAMP, &ascii);

    // Worst case for the escaped form: every character of the text is non-ASCII.
    let non_ascii = realistic_body(
        "Где мой заказ сорок два? Он должен был прийти вчера.",
        "Предыдущее сообщение о заказе и сроках доставки, достаточно длинное для примера",
    );
    let non_ascii_signature = sign_escaped(&secret, TIMESTAMP, &non_ascii).unwrap_or_default();
    eprintln!(
        "ascii body: {} bytes, non-ASCII body: {} bytes",
        ascii.len(),
        non_ascii.len()
    );

    criterion.bench_function("sign", |bencher| {
        bencher.iter(|| sign(&secret, TIMESTAMP, black_box(&ascii)))
    });
    criterion.bench_function("verify_raw", |bencher| {
        bencher.iter(|| {
            verifier.verify_at(
                [TIMESTAMP.as_bytes()],
                [ascii_signature.as_bytes()],
                black_box(&ascii),
                NOW,
            )
        })
    });
    criterion.bench_function("verify_escaped_worst_case", |bencher| {
        bencher.iter(|| {
            verifier.verify_at(
                [TIMESTAMP.as_bytes()],
                [non_ascii_signature.as_bytes()],
                black_box(&non_ascii),
                NOW,
            )
        })
    });
    criterion.bench_function("parse_realistic_payload", |bencher| {
        bencher.iter(|| parse_event(black_box(&ascii)))
    });
    criterion.bench_function("build_reply", |bencher| {
        bencher.iter(|| {
            JsonReply::new(format!("Echo: {}", black_box("Where is my order 42?"))).to_json()
        })
    });
    criterion.bench_function("verify_parse_reply", |bencher| {
        bencher.iter(|| handle(&verifier, &ascii_signature, black_box(&ascii)))
    });
    criterion.bench_function("verify_parse_reply_escaped", |bencher| {
        bencher.iter(|| handle(&verifier, &non_ascii_signature, black_box(&non_ascii)))
    });
}

criterion_group!(contract, benches);
criterion_main!(contract);
