//! Checks of the serialized Sitecore items (`dotnet/XmCdp.Sitecore/serialization`): every `.yml` is one well-formed
//! YAML document in the Sitecore Content Serialization shape, the tree is consistent with `XmCdp.module.json`, and
//! rule elements / submit actions carry the fields Sitecore reads. (That each `Type` names a class of the built
//! assembly is checked by the NUnit suite, which can load it: `SerializedItemsTests`.)

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// Stock template IDs, verified from public sources (see serialization/README.md).
const CONDITION: &str = "f0d16eee-3a05-4e43-a082-795a32b873c0";
const ACTION: &str = "f90052a5-b4e6-4e6d-9812-1e1b88a6fcea";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("dotnet").join("XmCdp.Sitecore").join("serialization")
}

fn ymls(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            ymls(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml") {
            out.push(p);
        }
    }
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

struct Item {
    file: PathBuf,
    id: String,
    parent: String,
    template: String,
    path: String,
    fields: HashMap<String, String>,
}

fn load(file: &Path) -> Item {
    let text = fs::read_to_string(file).unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: not well-formed YAML: {e}", file.display()));
    assert_eq!(docs.len(), 1, "{}: one document per item file", file.display());
    let doc = &docs[0];
    let s = |k: &str| doc[k].as_str().unwrap_or_else(|| panic!("{}: `{k}` missing or not a string", file.display())).to_owned();
    assert_eq!(s("DB"), "master", "{}", file.display());
    let mut fields = HashMap::new();
    if !doc["SharedFields"].is_badvalue() {
        for f in doc["SharedFields"].as_vec().unwrap_or_else(|| panic!("{}: SharedFields is not a list", file.display())) {
            let id = f["ID"].as_str().unwrap_or_else(|| panic!("{}: a field without ID", file.display()));
            assert!(is_guid(id), "{}: field ID {id}", file.display());
            let hint = f["Hint"].as_str().unwrap_or_else(|| panic!("{}: a field without Hint", file.display()));
            let value = match &f["Value"] {
                Yaml::String(v) => v.clone(),
                other => panic!("{}: field {hint} value {other:?}", file.display()),
            };
            fields.insert(hint.to_owned(), value);
        }
    }
    let item = Item { file: file.to_owned(), id: s("ID"), parent: s("Parent"), template: s("Template"), path: s("Path"), fields };
    for g in [&item.id, &item.parent, &item.template] {
        assert!(is_guid(g) && g.to_lowercase() == *g, "{}: {g} is not a lower-case GUID", file.display());
    }
    item
}

#[test]
fn serialized_items_are_well_formed_and_consistent() {
    let root = root();
    let module: serde_json::Value = serde_json::from_str(&fs::read_to_string(root.join("XmCdp.module.json")).unwrap()).unwrap();
    let includes: Vec<(String, String)> = module["items"]["includes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_owned(), i["path"].as_str().unwrap().to_owned()))
        .collect();
    let mut files = Vec::new();
    ymls(&root.join(module["items"]["path"].as_str().unwrap()), &mut files);
    let items: Vec<Item> = files.iter().map(|f| load(f)).collect();
    assert!(items.len() >= 10, "{} items", items.len());

    let ids: HashSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.len(), items.len(), "item IDs are unique");
    let by_path: HashMap<&str, &str> = items.iter().map(|i| (i.path.as_str(), i.id.as_str())).collect();
    for item in &items {
        // SCS layout: items/<include name>/<path below the include's parent>.yml
        let (name, base) = includes.iter().find(|(_, p)| item.path == *p || item.path.starts_with(&format!("{p}/")))
            .unwrap_or_else(|| panic!("{}: {} is outside every include", item.file.display(), item.path));
        let parent_of_base = &base[..base.rfind('/').unwrap()];
        let expected = root.join("items").join(name).join(format!("{}.yml", &item.path[parent_of_base.len() + 1..]));
        assert_eq!(item.file, expected, "file name follows the item path");
        if let Some(parent_path) = item.path.rfind('/').map(|i| &item.path[..i]) {
            if let Some(parent_id) = by_path.get(parent_path) {
                assert_eq!(item.parent, *parent_id, "{}: Parent is the item above it", item.file.display());
            }
        }
        if item.template == CONDITION || item.template == ACTION {
            let text = &item.fields["Text"];
            assert!(text.starts_with("where ") == (item.template == CONDITION), "{}: {text}", item.file.display());
            let ty = &item.fields["Type"];
            assert!(ty.starts_with("XmCdp.Sitecore.Rules.") && ty.ends_with("`1, XmCdp.Sitecore"), "{}: {ty}", item.file.display());
        }
        if let Some(ty) = item.fields.get("Model Type") {
            assert!(ty.starts_with("XmCdp.Sitecore.Forms.") && ty.ends_with(", XmCdp.Sitecore"), "{}: {ty}", item.file.display());
        }
    }
    let templates: Vec<&str> = items.iter().map(|i| i.template.as_str()).collect();
    assert_eq!(templates.iter().filter(|t| **t == CONDITION).count(), 3);
    assert_eq!(templates.iter().filter(|t| **t == ACTION).count(), 1);
    assert_eq!(items.iter().filter(|i| i.fields.contains_key("Model Type")).count(), 3);
}

#[test]
fn a_malformed_item_is_refused() {
    let dir = std::env::temp_dir().join(format!("xmcdp-items-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yml");
    fs::write(&bad, "---\nID: \"8e7b6159-f586-4c06-8391-1121e47b4b64\"\nSharedFields:\n- ID: [unclosed\n").unwrap();
    let r = std::panic::catch_unwind(|| load(&bad));
    let _ = fs::remove_dir_all(&dir);
    assert!(r.is_err());
}
