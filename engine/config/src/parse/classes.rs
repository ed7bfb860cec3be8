//! Class references of subnets, shared networks and pools (ARM 16.6, 16.7, 16.4.1), and the
//! checks on class `test` expressions (ARM 16.3: parsed at load, no forward dependencies).

use super::*;

/// Built-in class names and prefixes (ARM 16.2): implicitly defined, never "not defined".
const BUILTIN_NAMES: [&str; 6] = ["ALL", "KNOWN", "UNKNOWN", "DROP", "BOOTP", "SKIP_DDNS"];
const BUILTIN_PREFIXES: [&str; 5] = ["VENDOR_CLASS_", "HA_", "AFTER_", "EXTERNAL_", "SPAWN_"];

/// Whether `name` is one of Kea's built-in classes or built-in prefixes.
pub fn is_builtin_class(name: &str) -> bool {
    BUILTIN_NAMES.contains(&name) || BUILTIN_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn string_list(f: &mut Findings, map: &Map<String, Value>, key: &str, path: &str) -> Vec<String> {
    let Some(list) = f.list_at(map, key, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        match v.as_str() {
            Some("") => f.error(format!("{path}.{key}[{i}]"), "class name must not be empty"),
            Some(s) => out.push(s.to_string()),
            None => f.error(
                format!("{path}.{key}[{i}]"),
                format!("expected a string, found {}", json_type(v)),
            ),
        }
    }
    out
}

/// `client-classes` (or Kea's deprecated single `client-class`) and
/// `evaluate-additional-classes` (or the deprecated `require-client-classes`) of one scope.
pub(super) fn parse_class_lists(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
) -> ClassLists {
    let mut guard = string_list(f, map, "client-classes", path);
    if let Some(single) = f.str_at(map, "client-class", path) {
        if map.contains_key("client-classes") {
            f.error(
                format!("{path}.client-class"),
                "'client-class' and 'client-classes' are mutually exclusive",
            );
        } else {
            // DHCPSRV_CLIENT_CLASS_DEPRECATED (ARM 3.0): still accepted, as a one-entry list.
            f.warn(
                format!("{path}.client-class"),
                "'client-class' is deprecated; use the 'client-classes' list",
            );
            if !single.is_empty() {
                guard.push(single.to_string());
            }
        }
    }
    let mut additional = string_list(f, map, "evaluate-additional-classes", path);
    if map.contains_key("require-client-classes") {
        if map.contains_key("evaluate-additional-classes") {
            f.error(
                format!("{path}.require-client-classes"),
                "'require-client-classes' and 'evaluate-additional-classes' are mutually exclusive",
            );
        } else {
            f.warn(
                format!("{path}.require-client-classes"),
                "'require-client-classes' is deprecated; use 'evaluate-additional-classes'",
            );
            additional = string_list(f, map, "require-client-classes", path);
        }
    }
    ClassLists { guard, additional }
}

/// Compiles a class's `test` to check it (ARM 16.3): a syntax or type error, or a `member()`
/// of a class that is neither built in nor defined before this one, is an error at `path`.
pub(super) fn check_class_test(
    f: &mut Findings,
    expr: &str,
    path: &str,
    earlier: &HashMap<String, String>,
    option_defs: &[OptionDef],
) {
    let resolve = |name: &str| option_code_by_name(name, option_defs);
    check_class_test_with(
        f,
        expr,
        path,
        earlier,
        corelease_classify::Universe::V4,
        &resolve,
    );
}

/// [`check_class_test`] for either universe, with its option-name resolver.
pub(super) fn check_class_test_with(
    f: &mut Findings,
    expr: &str,
    path: &str,
    earlier: &HashMap<String, String>,
    universe: corelease_classify::Universe,
    resolve: &dyn Fn(&str) -> Option<u16>,
) {
    match corelease_classify::compile_test(expr, universe, resolve) {
        Ok(program) => check_member_classes(f, expr, path, &program, earlier),
        Err(e) => f.error(path.to_string(), format!("expression '{expr}': {e}")),
    }
}

/// ARM 16 ("dependencies between classes are also checked"): `member()` may only name a
/// built-in class or one defined before this one, in a `test` as in a `template-test`.
fn check_member_classes(
    f: &mut Findings,
    expr: &str,
    path: &str,
    program: &corelease_classify::Program,
    earlier: &HashMap<String, String>,
) {
    for class in program.member_classes() {
        if !is_builtin_class(class) && !earlier.contains_key(class) {
            f.error(
                path.to_string(),
                format!("expression '{expr}' depends on class '{class}', which is not defined before this class"),
            );
        }
    }
}

/// Compiles a class's `template-test` to check it (ARM 16.4): it must yield a string, the
/// variable part of the spawned class's name.
pub(super) fn check_template_test(
    f: &mut Findings,
    expr: &str,
    path: &str,
    earlier: &HashMap<String, String>,
    option_defs: &[OptionDef],
) {
    let resolve = |name: &str| option_code_by_name(name, option_defs);
    check_template_test_with(
        f,
        expr,
        path,
        earlier,
        corelease_classify::Universe::V4,
        &resolve,
    );
}

/// [`check_template_test`] for either universe, with its option-name resolver.
pub(super) fn check_template_test_with(
    f: &mut Findings,
    expr: &str,
    path: &str,
    earlier: &HashMap<String, String>,
    universe: corelease_classify::Universe,
    resolve: &dyn Fn(&str) -> Option<u16>,
) {
    match corelease_classify::compile_with(expr, universe, resolve) {
        Ok(p) if p.kind() == corelease_classify::ValueKind::String => {
            check_member_classes(f, expr, path, &p, earlier)
        }
        Ok(_) => f.error(
            path.to_string(),
            format!(
                "expression '{expr}' evaluates to a boolean; a template-test must yield a string"
            ),
        ),
        Err(e) => f.error(path.to_string(), format!("expression '{expr}': {e}")),
    }
}

/// The code of a DHCPv4 option named in an expression: the standard names, then the
/// `option-def` entries of the dhcp4 space (ARM 16.3 `option[name]`).
pub fn option_code_by_name(name: &str, option_defs: &[OptionDef]) -> Option<u16> {
    corelease_classify::standard_v4_option_code(name).or_else(|| {
        option_defs
            .iter()
            .find(|d| d.space == DHCP4_SPACE && d.name == name)
            .map(|d| u16::from(d.code))
    })
}
