// SPDX-License-Identifier: MIT
// Rust's standard library sets up its stack-overflow guard only where the
// SIGSEGV and SIGBUS actions are still the default, so a shim's handler that
// shows changes what a Rust program does (tests/integration/test_signals.py).
// dispositions: what it allocated and what the signal calls say; overflow,
// overflow-thread: keeps 3 MiB from keep_before_overflow, then overflows the
// stack (of main, or of a thread named "worker"). Rust 1.63 (Debian 12).
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static FREES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        FREES.fetch_add(1, Ordering::Relaxed);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

// glibc's x86-64 struct sigaction and stack_t.
#[repr(C)]
struct SigAction {
    handler: usize,
    mask: [u64; 16],
    flags: i32,
    restorer: usize,
}

#[repr(C)]
struct StackT {
    sp: usize,
    flags: i32,
    size: usize,
}

extern "C" {
    fn sigaction(sig: i32, act: *const SigAction, old: *mut SigAction) -> i32;
    fn sigaltstack(ss: *const StackT, old: *mut StackT) -> i32;
}

const SS_DISABLE: i32 = 2;
const KEPT: usize = 3 << 20;

fn counts() -> (usize, usize) {
    (ALLOCS.load(Ordering::Relaxed), FREES.load(Ordering::Relaxed))
}

fn dispositions() {
    let (a, f) = counts();
    let mut out = String::new();
    out.push_str(&format!("before main: allocs {} frees {}\n", a, f));
    for &(name, sig) in &[("SIGSEGV", 11), ("SIGBUS", 7), ("SIGILL", 4), ("SIGFPE", 8), ("SIGABRT", 6)] {
        let mut act = SigAction { handler: 0, mask: [0; 16], flags: 0, restorer: 0 };
        unsafe { sigaction(sig, std::ptr::null(), &mut act) };
        let kind = match act.handler {
            0 => "default",
            1 => "ignore",
            _ => "handler",
        };
        out.push_str(&format!("{}: {} flags {:#x} mask {:#x}\n", name, kind, act.flags, act.mask[0]));
    }
    let mut st = StackT { sp: 0, flags: 0, size: 0 };
    unsafe { sigaltstack(std::ptr::null(), &mut st) };
    if st.flags & SS_DISABLE != 0 {
        out.push_str("main altstack: none\n");
    } else {
        out.push_str(&format!("main altstack: size {}\n", st.size));
    }
    let t = std::thread::Builder::new()
        .name("worker".to_string())
        .spawn(|| {
            let mut st = StackT { sp: 0, flags: 0, size: 0 };
            unsafe { sigaltstack(std::ptr::null(), &mut st) };
            st.flags & SS_DISABLE == 0
        })
        .unwrap();
    let has = t.join().unwrap();
    out.push_str(&format!("worker altstack: {}\n", if has { "some" } else { "none" }));
    let (a, f) = counts();
    out.push_str(&format!("at the end: allocs {} frees {}\n", a, f));
    print!("{}", out);
}

#[inline(never)]
fn keep_before_overflow() -> &'static mut Vec<u8> {
    Box::leak(Box::new(vec![1u8; KEPT]))
}

// Each frame keeps 1 KiB live across the call: no tail call, no loop.
#[inline(never)]
fn recurse(n: usize, limit: usize) -> usize {
    let mut buf = [0u8; 1024];
    if n == limit {
        return 0;
    }
    unsafe { std::ptr::write_volatile(&mut buf[n % 1024], n as u8) };
    let r = recurse(n + 1, limit);
    r + unsafe { std::ptr::read_volatile(&buf[(n * 7) % 1024]) } as usize
}

fn overflow() {
    let kept = keep_before_overflow();
    println!("kept {} bytes, overflowing", kept.len());
    std::io::stdout().flush().unwrap();
    // never reached, and the compiler cannot know it
    let limit = std::env::args().count() + usize::MAX / 2;
    recurse(0, limit);
}

fn main() {
    let how = std::env::args().nth(1).unwrap_or_default();
    match how.as_str() {
        "dispositions" => dispositions(),
        "overflow" => overflow(),
        "overflow-thread" => {
            let t = std::thread::Builder::new().name("worker".to_string()).spawn(overflow).unwrap();
            let _ = t.join();
        }
        _ => {
            eprintln!("usage: rust_overflow dispositions|overflow|overflow-thread");
            std::process::exit(2);
        }
    }
}
