//! Customer search benchmark (work in progress: filled in by the next commit).
fn main() {
    println!("search bench: not written yet");
}
