//! Black-box tests of `haulwatch decode`: runs the binary, checks exit status and the JSON
//! lines it prints.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn run(args: &[&str], stdin: &str) -> (bool, Vec<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haulwatch"))
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("finishes");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    (out.status.success(), lines)
}

// SmallChi/JT808 JT808_0x0200Test.cs: location with mileage and fuel items.
const LOCATION: &str = "7e0200002611223344556622b8000000010000000200ba7f0e07e4f11c0028003c000018071510101001040000006402020037577e";
// The same frame with its checksum byte changed from 0x57 to 0x58.
const LOCATION_BAD_SUM: &str = "7e0200002611223344556622b8000000010000000200ba7f0e07e4f11c0028003c000018071510101001040000006402020037587e";

#[test]
fn arguments_good_and_rejected_frames_exit_zero() {
    let (ok, lines) = run(&[LOCATION, LOCATION_BAD_SUM, "zz"], "");
    assert!(ok, "exit status 0 even with rejected frames");
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        json!({
            "ok": true, "msg_id": "0x0200", "version": "2013", "phone": "112233445566",
            "serial": 8888, "packet": null, "checksum_ok": true,
            "body": {
                "alarm": 1, "status": 2, "lat": 12.222222, "lon": 132.444444,
                "altitude_m": 40, "speed_kmh": 6.0, "direction": 0,
                "time": "2018-07-15T10:10:10+08:00", "load": "empty",
                "items": {"0x01": {"mileage_km": 10.0}, "0x02": {"fuel_l": 5.5}},
                "alarm_bits": ["sos"], "status_bits": ["located"]
            }
        })
    );
    assert_eq!(
        lines[1],
        json!({"ok": false, "error": "checksum mismatch: computed 0x57, frame has 0x58"})
    );
    assert_eq!(lines[2]["ok"], false);
}

#[test]
fn stdin_lines_with_spaces_and_lenient_mode() {
    let spaced: String = LOCATION_BAD_SUM
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).expect("ascii"))
        .collect::<Vec<_>>()
        .join(" ");
    let input = format!("{spaced}\n\n{LOCATION}\n");
    let (ok, strict) = run(&[], &input);
    assert!(ok);
    assert_eq!(strict.len(), 2, "blank line skipped");
    assert_eq!(strict[0]["ok"], false);
    assert_eq!(strict[1]["checksum_ok"], true);

    let (ok, lenient) = run(&["--lenient"], &input);
    assert!(ok);
    assert_eq!(lenient[0]["ok"], true);
    assert_eq!(lenient[0]["checksum_ok"], false);
    assert_eq!(lenient[0]["body"]["items"]["0x02"]["fuel_l"], 5.5);
}

#[test]
fn registration_versions_auth_and_replies() {
    let (ok, lines) = run(
        &[
            // SmallChi/JT808 JT808_0x0100Test.cs: 2011 layout (33-byte body).
            "7e01000021000123456789000a002800323132333400746b3132333435004348493132330001d4c1413132333435857e",
            // yezhihao/jt808-server 单元测试记录.txt: 0x0102 2019 with IMEI and version.
            "7e010240500112345678901234567890ffff2c706d59477a47756b4f384b345a356c70494f5467386471623365707259614842625853504c7464627947383d3132333435363738393031323334357777772e6a74743830382e636e00000000000000557e",
            // yezhihao/jt808-server 单元测试记录.txt: 0x8100 2013 and 0x8001 2019.
            "7e8100001e1234567890120001970c00636877443053453166636877443053453166636877443053453166c67e",
            "7e800140050112345678901234567890ffff007b01c803747e",
        ],
        "",
    );
    assert!(ok);
    assert_eq!(lines[0]["version"], "2011");
    assert_eq!(
        lines[0]["body"],
        json!({"province": 40, "city": 50, "maker_id": "1234", "model": "tk12345",
               "terminal_id": "CHI123", "plate_color": 1, "plate": "粤A12345"})
    );
    assert_eq!(lines[1]["version"], "2019");
    assert_eq!(lines[1]["phone"], "12345678901234567890");
    assert_eq!(
        lines[1]["body"],
        json!({"auth_code": "pmYGzGukO8K4Z5lpIOTg8dqb3eprYaHBbXSPLtdbyG8=",
               "imei": "123456789012345", "software_version": "www.jtt808.cn"})
    );
    assert_eq!(
        lines[2]["body"],
        json!({"reply_serial": 38668, "result": 0, "auth_code": "chwD0SE1fchwD0SE1fchwD0SE1f"})
    );
    assert_eq!(
        lines[3]["body"],
        json!({"reply_serial": 123, "reply_msg_id": "0x01C8", "result": 3})
    );
}

#[test]
fn batch_and_subpackaged_sets() {
    // SmallChi/JT808 JT808_0x0704Test.cs: two positions, type 0.
    let batch = "7e0704005311223344556622b80002000026000000010000000200ba7f0e07e4f11c0028003c0000180715101010010400000064020200370026000000020000000100cb735507e6a32300290036007818071510103001040000006002020042d47e";
    // SmallChi/JT808 JT808HeaderPackageTest.cs: 0x1205 packet 2 of 2 (packet 1 is long, so
    // only packet 2 is used here; it cannot complete the set alone).
    let packet2 = "7e1205203804066657506200ec000200020120121900163320121900360700000000000000000001010f0ce4cd0120121900002220121900163300000000000000000001010c6f9e7b5d7e";
    let (ok, lines) = run(&[batch, packet2], "");
    assert!(ok);
    let body = &lines[0]["body"];
    assert_eq!(body["type"], 0);
    assert_eq!(body["count"], 2);
    assert_eq!(body["positions"][1]["lat"], 13.333333);
    assert_eq!(body["positions"][1]["time"], "2018-07-15T10:10:30+08:00");
    assert_eq!(lines[1]["packet"], json!({"total": 2, "index": 2}));
    assert_eq!(lines[1]["body"], Value::Null);
    assert!(
        lines[1]["body_error"]
            .as_str()
            .unwrap_or_default()
            .contains("reassemble")
    );
}

#[test]
fn subpackaged_set_is_reassembled_across_lines() {
    // Two packets of a 0x0900 pass-through message (own frames: body 01 + 1030 bytes of 0x5A,
    // split 1023 + 8 by our encoder's rule), written independently of the codec under test.
    let mut body = vec![0x01u8];
    body.extend(std::iter::repeat_n(0x5Au8, 1030));
    let mut lines_in = String::new();
    for (index, chunk) in body.chunks(1023).enumerate() {
        let mut content = vec![0x09, 0x00];
        let props = 0x2000u16 | chunk.len() as u16;
        content.extend(props.to_be_bytes());
        content.extend([0x01, 0x38, 0x12, 0x34, 0x56, 0x78]);
        content.extend((100 + index as u16).to_be_bytes());
        content.extend(2u16.to_be_bytes());
        content.extend((index as u16 + 1).to_be_bytes());
        content.extend_from_slice(chunk);
        let sum = content.iter().fold(0u8, |a, b| a ^ b);
        content.push(sum);
        let mut frame = vec![0x7E];
        for b in content {
            match b {
                0x7E => frame.extend([0x7D, 0x02]),
                0x7D => frame.extend([0x7D, 0x01]),
                other => frame.push(other),
            }
        }
        frame.push(0x7E);
        lines_in.push_str(&hex::encode(frame));
        lines_in.push('\n');
    }
    let (ok, lines) = run(&[], &lines_in);
    assert!(ok);
    assert_eq!(lines.len(), 2);
    assert!(lines[0].get("reassembled").is_none());
    let joined = &lines[1]["reassembled"];
    assert_eq!(joined["packets"], 2);
    assert_eq!(joined["body"]["type"], 1);
    assert_eq!(
        joined["body"]["data"].as_str().map(str::len),
        Some(2 * 1030)
    );
}
