//! The public API, listed from the source and compared with `tests/public-api.txt`, so that any
//! change to what dependents can name is a visible diff in review.
//!
//! After an intended change: `RAYBLAS_BLESS_API=1 cargo test --test library public_api`, and commit the
//! new list. (rustdoc's JSON output, which tools like cargo-public-api read, needs a nightly
//! toolchain; this reads the source with `syn` instead.)
//!
//! What is listed: every `pub` item of a module that dependents can reach (through `pub mod` or a
//! `pub use` re-export), with its signature and no body; the fields and methods that are `pub`;
//! the variants of public enums; trait impls of public traits and for public types. `#[cfg]` and
//! `#[doc(hidden)]` are kept as prefixes: a feature-gated or hidden item is still part of the API.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use syn::{Attribute, Item, UseTree, Visibility};

/// A module: its path from the crate root, whether dependents can reach it, and its items.
struct Module {
    path: String,
    reachable: bool,
    items: Vec<Item>,
}

fn is_pub(v: &Visibility) -> bool {
    matches!(v, Visibility::Public(_))
}

/// `#[cfg(..)]` and `#[doc(hidden)]` of a `pub use`, as a prefix of the item it re-exports.
fn marks(attrs: &[Attribute]) -> String {
    let mut out = String::new();
    for a in attrs {
        let text = quote_attr(a);
        if text.starts_with("#[cfg") || text == "#[doc(hidden)]" {
            out += &text;
            out += " ";
        }
    }
    out
}

/// An attribute as compact text, e.g. `#[cfg(feature="bench")]`.
fn quote_attr(a: &Attribute) -> String {
    use quote::ToTokens;
    a.to_token_stream().to_string().replace(' ', "")
}

/// One item, printed without docs, bodies or private parts, on one line.
fn render(item: &Item) -> String {
    let mut item = item.clone();
    match &mut item {
        Item::Fn(f) => f.block.stmts.clear(),
        Item::Struct(s) => {
            if let syn::Fields::Named(named) = &mut s.fields {
                named.named = named
                    .named
                    .clone()
                    .into_iter()
                    .filter(|f| is_pub(&f.vis))
                    .collect();
            }
        }
        Item::Trait(t) => {
            for i in &mut t.items {
                if let syn::TraitItem::Fn(f) = i {
                    f.default = None;
                    f.semi_token = Some(Default::default());
                }
            }
        }
        Item::Const(c) => {
            *c.expr = syn::parse_quote!(_);
        }
        Item::Impl(i) => {
            i.items.retain(|it| match it {
                syn::ImplItem::Fn(f) => i.trait_.is_some() || is_pub(&f.vis),
                syn::ImplItem::Const(c) => i.trait_.is_some() || is_pub(&c.vis),
                _ => i.trait_.is_some(),
            });
            for it in &mut i.items {
                if let syn::ImplItem::Fn(f) = it {
                    f.block.stmts.clear();
                }
            }
        }
        _ => {}
    }
    strip_docs(&mut item);
    let file = syn::File {
        shebang: None,
        attrs: vec![],
        items: vec![item],
    };
    prettyplease::unparse(&file)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Removes doc comments and other attributes except `cfg`, `derive` (derived traits are API)
/// and `doc(hidden)`.
fn strip_docs(item: &mut Item) {
    fn keep(attrs: &mut Vec<Attribute>) {
        attrs.retain(|a| {
            let t = quote_attr(a);
            t.starts_with("#[cfg") || t.starts_with("#[derive") || t == "#[doc(hidden)]"
        });
    }
    match item {
        Item::Fn(f) => keep(&mut f.attrs),
        Item::Struct(s) => {
            keep(&mut s.attrs);
            s.fields.iter_mut().for_each(|f| keep(&mut f.attrs));
        }
        Item::Enum(e) => {
            keep(&mut e.attrs);
            for v in &mut e.variants {
                keep(&mut v.attrs);
                v.fields.iter_mut().for_each(|f| keep(&mut f.attrs));
            }
        }
        Item::Trait(t) => {
            keep(&mut t.attrs);
            for i in &mut t.items {
                match i {
                    syn::TraitItem::Fn(f) => keep(&mut f.attrs),
                    syn::TraitItem::Const(c) => keep(&mut c.attrs),
                    syn::TraitItem::Type(ty) => keep(&mut ty.attrs),
                    _ => {}
                }
            }
        }
        Item::Impl(i) => {
            keep(&mut i.attrs);
            for it in &mut i.items {
                if let syn::ImplItem::Fn(f) = it {
                    keep(&mut f.attrs);
                }
            }
        }
        Item::Const(c) => keep(&mut c.attrs),
        Item::Type(t) => keep(&mut t.attrs),
        Item::Static(s) => keep(&mut s.attrs),
        _ => {}
    }
}

/// Reads `file` and its `mod` declarations, depth first.
fn load(file: &Path, path: &str, reachable: bool, out: &mut Vec<Module>) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    // Child modules of `src/lib.rs` and `x/mod.rs` live beside them; of `x.rs`, in `x/`.
    let dir = if file.ends_with("lib.rs") || file.ends_with("mod.rs") {
        file.parent().unwrap().to_path_buf()
    } else {
        file.with_extension("")
    };
    walk(parsed.items, &dir, path, reachable, out);
}

fn walk(items: Vec<Item>, dir: &Path, path: &str, reachable: bool, out: &mut Vec<Module>) {
    let mut kept = Vec::new();
    for item in items {
        if let Item::Mod(m) = &item {
            if m.attrs.iter().any(|a| quote_attr(a).contains("cfg(test)")) {
                continue;
            }
            let child = format!("{path}::{}", m.ident);
            let child_reachable = reachable && is_pub(&m.vis);
            match &m.content {
                Some((_, inner)) => walk(
                    inner.clone(),
                    &dir.join(m.ident.to_string()),
                    &child,
                    child_reachable,
                    out,
                ),
                None => {
                    let explicit = m.attrs.iter().find_map(|a| {
                        let syn::Meta::NameValue(nv) = &a.meta else {
                            return None;
                        };
                        if !nv.path.is_ident("path") {
                            return None;
                        }
                        match &nv.value {
                            syn::Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Str(s),
                                ..
                            }) => Some(dir.join(s.value())),
                            _ => None,
                        }
                    });
                    let file: PathBuf = explicit.unwrap_or_else(|| {
                        let flat = dir.join(format!("{}.rs", m.ident));
                        if flat.exists() {
                            flat
                        } else {
                            dir.join(m.ident.to_string()).join("mod.rs")
                        }
                    });
                    // A module declared once per backend feature (`#[path]`) is read once per
                    // file, under the same path.
                    load(&file, &child, child_reachable, out);
                }
            }
        }
        kept.push(item);
    }
    out.push(Module {
        path: path.to_string(),
        reachable,
        items: kept,
    });
}

/// `(name, path it is re-exported under)` for each `pub use` in reachable modules, with the
/// defining module's last segment resolved relative to the using module.
fn reexports(modules: &[Module]) -> Vec<(String, String, String, String)> {
    fn leaves(tree: &UseTree, prefix: &str, out: &mut Vec<(String, String)>) {
        match tree {
            UseTree::Path(p) => leaves(&p.tree, &format!("{prefix}{}::", p.ident), out),
            UseTree::Name(n) => out.push((format!("{prefix}{}", n.ident), n.ident.to_string())),
            UseTree::Rename(r) => out.push((format!("{prefix}{}", r.ident), r.rename.to_string())),
            UseTree::Group(g) => g.items.iter().for_each(|t| leaves(t, prefix, out)),
            UseTree::Glob(_) => out.push((format!("{prefix}*"), "*".into())),
        }
    }
    let mut out = Vec::new();
    for m in modules.iter().filter(|m| m.reachable) {
        for item in &m.items {
            if let Item::Use(u) = item {
                if !is_pub(&u.vis) {
                    continue;
                }
                let mut found = Vec::new();
                leaves(&u.tree, "", &mut found);
                for (source, name) in found {
                    out.push((m.path.clone(), source, name, marks(&u.attrs)));
                }
            }
        }
    }
    out
}

/// The listing: one line per public item, sorted.
fn public_api() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let mut modules = Vec::new();
    load(&root, "rayblas", true, &mut modules);
    // Definitions by (module path, name), for resolving re-exports.
    let mut defs: HashMap<(String, String), &Item> = HashMap::new();
    for m in &modules {
        for item in &m.items {
            if let Some((name, vis)) = name_and_vis(item) {
                if is_pub(vis) {
                    defs.insert((m.path.clone(), name), item);
                }
            }
        }
    }
    let mut lines = BTreeSet::new();
    let mut public_names = BTreeSet::new();
    for m in modules.iter().filter(|m| m.reachable) {
        for item in &m.items {
            if let Some((name, vis)) = name_and_vis(item) {
                if is_pub(vis) {
                    public_names.insert(name.clone());
                    lines.insert(line(&format!("{}::{name}", m.path), item));
                }
            }
        }
    }
    for (module, source, name, use_marks) in reexports(&modules) {
        let segments: Vec<&str> = source.split("::").collect();
        let (last, parents) = segments.split_last().unwrap();
        let mut base = module.clone();
        for s in parents {
            base = match *s {
                "crate" => "rayblas".into(),
                "self" => base,
                "super" => base.rsplit_once("::").map(|x| x.0.to_string()).unwrap(),
                other => format!("{base}::{other}"),
            };
        }
        let at = format!("{module}::{name}");
        match defs.get(&(base.clone(), last.to_string())) {
            Some(item) => {
                public_names.insert(name.clone());
                lines.insert(format!("{at}: {use_marks}{}", render(item)));
            }
            None => {
                lines.insert(format!("{at}: {use_marks}pub use {source}"));
            }
        }
    }
    // Impl blocks anywhere: inherent ones of public types (their pub methods), and trait impls
    // that involve a public type or trait.
    for m in &modules {
        for item in &m.items {
            let Item::Impl(i) = item else { continue };
            let self_name = type_name(&i.self_ty);
            let trait_name = i
                .trait_
                .as_ref()
                .and_then(|t| t.1.segments.last())
                .map(|s| s.ident.to_string());
            let public_self = public_names.contains(&self_name);
            let public_trait = trait_name
                .as_ref()
                .is_some_and(|t| public_names.contains(t));
            let shown = match &trait_name {
                None => public_self,
                Some(_) => public_self || public_trait,
            };
            if !shown {
                continue;
            }
            // `render` keeps an impl's `cfg` and `doc(hidden)` attributes itself.
            if trait_name.is_some() {
                lines.insert(render(item));
                continue;
            }
            // Inherent impls: one line per public method or constant.
            for member in &i.items {
                let mut one = i.clone();
                one.items = vec![member.clone()];
                let text = render(&Item::Impl(one));
                if text.contains("pub ") {
                    lines.insert(text);
                }
            }
        }
    }
    lines
}

fn line(path: &str, item: &Item) -> String {
    format!("{path}: {}", render(item))
}

fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn name_and_vis(item: &Item) -> Option<(String, &Visibility)> {
    Some(match item {
        Item::Fn(x) => (x.sig.ident.to_string(), &x.vis),
        Item::Struct(x) => (x.ident.to_string(), &x.vis),
        Item::Enum(x) => (x.ident.to_string(), &x.vis),
        Item::Trait(x) => (x.ident.to_string(), &x.vis),
        Item::Const(x) => (x.ident.to_string(), &x.vis),
        Item::Static(x) => (x.ident.to_string(), &x.vis),
        Item::Type(x) => (x.ident.to_string(), &x.vis),
        Item::Mod(x) => (x.ident.to_string(), &x.vis),
        // `pub use` is listed under the name it re-exports (see `reexports`).
        _ => return None,
    })
}

#[test]
fn public_api_matches_the_checked_in_list() {
    let listing: String = public_api().into_iter().map(|l| l + "\n").collect();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/public-api.txt");
    if std::env::var_os("RAYBLAS_BLESS_API").is_some() {
        std::fs::write(&file, &listing).unwrap();
        return;
    }
    let saved = std::fs::read_to_string(&file).unwrap_or_default();
    if saved != listing {
        let old: BTreeSet<&str> = saved.lines().collect();
        let new: BTreeSet<&str> = listing.lines().collect();
        let removed: Vec<_> = old.difference(&new).map(|l| format!("- {l}")).collect();
        let added: Vec<_> = new.difference(&old).map(|l| format!("+ {l}")).collect();
        panic!(
            "the public API changed (review, then RAYBLAS_BLESS_API=1 cargo test --test \
             library public_api and commit tests/public-api.txt):\n{}\n{}",
            removed.join("\n"),
            added.join("\n")
        );
    }
}

#[test]
fn internals_stay_private() {
    let api = public_api();
    for internal in [
        "Resolved",
        "Kind",
        "split_strips_mut",
        "Tiling",
        "Strip",
        "Plan",
    ] {
        assert!(
            !api.iter().any(|l| l.contains(&format!("::{internal}:"))),
            "{internal} is public"
        );
    }
    assert!(
        api.iter()
            .any(|l| l.starts_with("rayblas::simd::LEAF: #[doc(hidden)]")),
        "LEAF is hidden, not documented"
    );
}
