use anyhow::Result;
use testkit::layout::Layout;
use testkit::stack;

/// Starts the stack and tells where everything is.
pub fn run() -> Result<()> {
    let layout = Layout::discover();
    stack::start(&layout)?;
    crate::stack_cmd::print_where(&layout);
    eprintln!("stop it with: cargo xtask stack stop");
    Ok(())
}
