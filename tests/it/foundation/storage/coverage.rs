//! Every public function of `src/store/` is called by this suite: a new store
//! function without a conformance test fails here.

use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `pub fn name` in `text` (associated functions and methods included).
fn public_fns(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("pub fn "))
        .filter_map(|rest| rest.split(['(', '<']).next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_store_function_is_exercised() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite_dir = root.join("tests/it/foundation/storage");
    let suite: String = std::fs::read_dir(&suite_dir)
        .unwrap()
        .map(|e| read(&e.unwrap().path()))
        .collect();
    let mut missing = vec![];
    for entry in std::fs::read_dir(root.join("src/store")).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_str().unwrap().to_string();
        if module == "schema" {
            continue;
        }
        // How the suite names the module: `store::servers`, or an alias
        // (`servers as sv`).
        let mut names = vec![module.clone()];
        for (i, _) in suite.match_indices(&format!("{module} as ")) {
            let alias: String = suite[i + module.len() + 4..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push(alias);
        }
        let text = read(&path);
        for f in public_fns(&text) {
            // A row's own method (`pub fn f(&self`) is called as `.f(`.
            let method = text.contains(&format!("pub fn {f}(&self"));
            let called = if module == "mod" || module == "unit" || method {
                // The Store, its units of work and their helpers: methods
                // and `store::f` calls.
                [
                    format!(".{f}("),
                    format!("::{f}("),
                    format!("::{f})"),
                    format!("::{f}::<"),
                ]
                .iter()
                .any(|n| suite.contains(n.as_str()))
            } else {
                names.iter().any(|m| {
                    [
                        format!("{m}::{f}("),
                        format!("{m}::{f})"),
                        format!("{m}::{f},"),
                    ]
                    .iter()
                    .any(|n| suite.contains(n.as_str()))
                })
            };
            if !called {
                missing.push(format!("{module}::{f}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "store functions without a test in {}: {missing:?}",
        suite_dir.display()
    );
}
