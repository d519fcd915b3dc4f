//! The module rules of ARCHITECTURE.md, checked on the source instead of kept by
//! hand: no import cycle between the modules of any crate, and the few modules
//! whose purity matters use nothing they must not.
//!
//! Every `crate::`/`super::`/`self::` path of a module's non-test code (in `use`
//! items, types and expressions; not inside macro calls) is an edge from that
//! module to the module the path names, resolved through the re-exports of the
//! crate root. Edges between two modules are counted between the siblings that
//! hold them, so `http::front -> http::auth` is an edge inside `http`, and
//! `pacing::gate -> retry` is `pacing -> retry` at the crate's top.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module, as the path of its names from the crate root (`[]` is the root).
type ModulePath = Vec<String>;

/// One crate's modules: the file of each, and the paths each of them uses.
#[derive(Default)]
struct Crate {
    /// Every module, by path.
    modules: BTreeMap<ModulePath, Module>,
}

#[derive(Default)]
struct Module {
    /// Paths the module names, made absolute (still possibly naming an item).
    uses: BTreeSet<ModulePath>,
    /// Names bound by the module's `use` items: name -> absolute path.
    imports: BTreeMap<String, ModulePath>,
    /// Crate names (not `crate::` paths) the module's code names.
    externs: BTreeSet<String>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// Every crate root of the workspace: libraries, binaries, `src/bin/*`.
fn crate_roots() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut packages: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("crates/")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    packages.push(root.join("xtask"));
    packages.sort();
    let mut roots = Vec::new();
    for package in packages {
        let src = package.join("src");
        for file in ["lib.rs", "main.rs"] {
            if src.join(file).is_file() {
                roots.push(src.join(file));
            }
        }
        if let Ok(bins) = std::fs::read_dir(src.join("bin")) {
            let mut bins: Vec<PathBuf> = bins.map(|e| e.expect("an entry").path()).collect();
            bins.sort();
            for bin in bins {
                if bin.is_dir() {
                    roots.push(bin.join("main.rs"));
                } else if bin.extension().is_some_and(|e| e == "rs") {
                    roots.push(bin);
                }
            }
        }
    }
    roots
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

/// Reads the crate whose root file is `root`, following `mod` declarations.
fn read_crate(root: &Path) -> Crate {
    let mut krate = Crate::default();
    let dir = root.parent().expect("a root in a directory").to_path_buf();
    read_module(&mut krate, Vec::new(), root, &dir);
    krate
}

/// Reads the module at `path` from `file`, whose child modules live in `dir`.
fn read_module(krate: &mut Crate, path: ModulePath, file: &Path, dir: &Path) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    read_items(krate, path, &parsed.items, dir);
}

fn read_items(krate: &mut Crate, path: ModulePath, items: &[syn::Item], dir: &Path) {
    let mut collector = Collector {
        here: path.clone(),
        module: Module::default(),
    };
    for item in items {
        match item {
            syn::Item::Mod(m) if is_test_only(&m.attrs) => {}
            syn::Item::Mod(m) => {
                let name = m.ident.to_string();
                let mut child = path.clone();
                child.push(name.clone());
                let child_dir = dir.join(&name);
                match &m.content {
                    Some((_, items)) => read_items(krate, child, items, &child_dir),
                    None => {
                        let flat = dir.join(format!("{name}.rs"));
                        let nested = child_dir.join("mod.rs");
                        let file = if flat.is_file() { flat } else { nested };
                        read_module(krate, child, &file, &child_dir);
                    }
                }
            }
            syn::Item::Fn(f) if is_test_only(&f.attrs) => {}
            syn::Item::Impl(i) if is_test_only(&i.attrs) => {}
            syn::Item::Use(u) if is_test_only(&u.attrs) => {}
            item => collector.visit_item(item),
        }
    }
    krate.modules.insert(path, collector.module);
}

/// Collects the paths of one module's items.
struct Collector {
    here: ModulePath,
    module: Module,
}

impl Collector {
    /// `segments` made absolute: from `crate`, `super` or `self`, or else from this
    /// module (a child module's name, as 2018 paths allow; a path that names
    /// another crate resolves to no module of this one).
    fn absolute(&self, segments: &[String]) -> ModulePath {
        let Some(first) = segments.first() else {
            return self.here.clone();
        };
        let (mut path, mut rest) = match first.as_str() {
            "crate" => (Vec::new(), &segments[1..]),
            "self" => (self.here.clone(), &segments[1..]),
            "super" => (self.here.clone(), segments),
            _ => (self.here.clone(), segments),
        };
        while rest.first().is_some_and(|s| s == "super") {
            path.pop();
            rest = &rest[1..];
        }
        path.extend(rest.iter().cloned());
        path
    }

    fn record(&mut self, segments: &[String]) {
        if segments.len() > 1 && !matches!(segments[0].as_str(), "crate" | "self" | "super") {
            self.module.externs.insert(segments[0].clone());
        }
        let path = self.absolute(segments);
        self.module.uses.insert(path);
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.bind(prefix, &n.ident.to_string(), &n.ident.to_string()),
            syn::UseTree::Rename(r) => {
                self.bind(prefix, &r.ident.to_string(), &r.rename.to_string())
            }
            syn::UseTree::Glob(_) => self.record(prefix),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    fn bind(&mut self, prefix: &[String], name: &str, alias: &str) {
        let mut segments = prefix.to_vec();
        if name != "self" {
            segments.push(name.to_owned());
        }
        self.record(&segments);
        let path = self.absolute(&segments);
        self.module.imports.insert(alias.to_owned(), path);
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {
        // Inline modules are read as modules of their own.
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        syn::visit::visit_path(self, path);
    }
}

impl Crate {
    /// The module `path` names: the longest prefix that is a module, with a name
    /// a module re-exports followed to where it comes from.
    fn module_of(&self, path: &[String]) -> ModulePath {
        self.follow(path, 8)
    }

    fn follow(&self, path: &[String], hops: u8) -> ModulePath {
        let mut module: ModulePath = Vec::new();
        for (depth, segment) in path.iter().enumerate() {
            let mut child = module.clone();
            child.push(segment.clone());
            if self.modules.contains_key(&child) {
                module = child;
                continue;
            }
            if let Some(target) = self.modules[&module].imports.get(segment) {
                let mut followed = target.clone();
                followed.extend(path[depth + 1..].iter().cloned());
                if hops > 0 && followed != path {
                    return self.follow(&followed, hops - 1);
                }
            }
            break;
        }
        module
    }

    /// Edges between sibling modules, by parent: `parent -> {(from, to)}`.
    fn sibling_edges(&self) -> BTreeMap<ModulePath, BTreeSet<(String, String)>> {
        let mut edges: BTreeMap<ModulePath, BTreeSet<(String, String)>> = BTreeMap::new();
        for (from, module) in &self.modules {
            for used in &module.uses {
                let to = self.module_of(used);
                let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
                // A module using itself, an ancestor (the root's items) or its own
                // descendants is no edge between siblings.
                if common == from.len() || common == to.len() {
                    continue;
                }
                edges
                    .entry(from[..common].to_vec())
                    .or_default()
                    .insert((from[common].clone(), to[common].clone()));
            }
        }
        edges
    }
}

/// A cycle in `edges`, if there is one, as the modules along it.
fn find_cycle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges {
        next.entry(from).or_default().push(to);
    }
    // Depth-first search; `stack` is the current path.
    fn visit<'a>(
        node: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = stack.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = stack[start..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for to in next.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(to, next, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    let nodes: Vec<&str> = next.keys().copied().collect();
    nodes
        .into_iter()
        .find_map(|node| visit(node, &next, &mut Vec::new(), &mut done))
}

fn display(root: &Path) -> String {
    root.strip_prefix(workspace_root())
        .unwrap_or(root)
        .display()
        .to_string()
}

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    let mut cycles = Vec::new();
    let mut checked = 0;
    for root in crate_roots() {
        let krate = read_crate(&root);
        for (parent, edges) in krate.sibling_edges() {
            checked += edges.len();
            if let Some(cycle) = find_cycle(&edges) {
                let parent = if parent.is_empty() {
                    "the crate root".to_owned()
                } else {
                    parent.join("::")
                };
                cycles.push(format!(
                    "{} (in {parent}): {}",
                    display(&root),
                    cycle.join(" -> ")
                ));
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} edges found: is the reader broken?"
    );
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle_through_a_reexport() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let write =
        |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("writes");
    write("lib.rs", "mod a;\nmod b;\nmod c;\npub use b::Thing;\n");
    write("a.rs", "use crate::Thing;\npub struct A;\n");
    write(
        "b.rs",
        "pub struct Thing;\nfn f() -> crate::c::C { todo!() }\n",
    );
    write(
        "c.rs",
        "pub struct C(super::a::A);\n#[cfg(test)]\nmod tests { use crate::a::A; }\n",
    );
    let krate = read_crate(&dir.path().join("lib.rs"));
    let edges = &krate.sibling_edges()[&Vec::new()];
    let expected: BTreeSet<(String, String)> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(f, t)| (f.to_owned(), t.to_owned()))
        .collect();
    assert_eq!(edges, &expected);
    let cycle = find_cycle(edges).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4, "{cycle:?}");

    write("c.rs", "pub struct C;\n");
    let krate = read_crate(&dir.path().join("lib.rs"));
    assert_eq!(find_cycle(&krate.sibling_edges()[&Vec::new()]), None);
}

/// Modules that must stay free of some crates: the decisions of the pacer take the
/// time as an argument (no clock, no runtime, no I/O), and the leaves named in
/// ARCHITECTURE.md use no other module of their crate.
#[test]
fn pure_modules_stay_pure() {
    let root = workspace_root();
    let api = read_crate(&root.join("crates/permissions-api/src/lib.rs"));
    let core = &api.modules[&vec!["pacing".to_owned(), "core".to_owned()]];
    for forbidden in ["tokio", "reqwest", "fs4", "dirs"] {
        assert!(
            !core.externs.contains(forbidden),
            "pacing::core uses {forbidden}"
        );
    }
    let core_text = std::fs::read_to_string(root.join("crates/permissions-api/src/pacing/core.rs"))
        .expect("reads core.rs");
    for forbidden in ["Instant::now", "SystemTime::now", "std::fs", "std::thread"] {
        assert!(
            !core_text.contains(forbidden),
            "pacing::core uses {forbidden}"
        );
    }
    let leaves: &[(&str, &[&str])] = &[
        ("crates/permissions-api/src/lib.rs", &["redact", "signals"]),
        ("crates/permissions-types/src/lib.rs", &["ids", "open_enum"]),
        (
            "crates/permissions-emulator/src/lib.rs",
            &["rules", "error", "org"],
        ),
        ("crates/permissions-sharing/src/lib.rs", &["file"]),
    ];
    for (file, names) in leaves {
        let krate = read_crate(&root.join(file));
        let edges = krate.sibling_edges();
        let top = edges.get(&Vec::new()).cloned().unwrap_or_default();
        for name in *names {
            let uses: Vec<&String> = top
                .iter()
                .filter(|(f, _)| f == name)
                .map(|(_, t)| t)
                .collect();
            assert!(
                uses.is_empty(),
                "{file}: {name} is a leaf but uses {uses:?}"
            );
        }
    }
}
