//! `option-def` and `option-data`: definitions, lookup by name or code, and encoding.

use super::*;

/// Option space names: letters, digits, '-' and '_' (Kea's `OptionSpace::validateName`).
pub(super) fn is_valid_space_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with(['-', '_'])
        && !name.ends_with(['-', '_'])
}

pub(super) fn is_valid_option_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// What every option-def entry is checked for first, in both families (Kea's OptionDefParser):
/// its keys, the three mandatory ones, its space (default `default_space`) and its name.
/// Returns the space and the name (`None` when the name was missing or refused at its path).
pub(super) fn option_def_head(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
    default_space: &str,
) -> (String, Option<String>) {
    f.check_keys(map, path, Scope::OptionDef);
    for key in ["name", "code", "type"] {
        if !map.contains_key(key) {
            f.error(path, format!("mandatory '{key}' parameter is missing"));
        }
    }
    let space = f
        .str_at(map, "space", path)
        .unwrap_or(default_space)
        .to_string();
    if !is_valid_space_name(&space) {
        f.error(
            format!("{path}.space"),
            format!("'{space}' is not a valid option space name"),
        );
    }
    let name = f.str_at(map, "name", path).and_then(|n| {
        if is_valid_option_name(n) {
            Some(n.to_string())
        } else {
            f.error(
                format!("{path}.name"),
                format!("'{n}' is not a valid option name"),
            );
            None
        }
    });
    (space, name)
}

/// The shape part of an option-def entry, the same in both families: type, array,
/// record-types and encapsulate, with Kea's checks. `None` after an error at its path.
pub(super) fn option_def_shape(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
) -> Option<(OptionType, bool, Vec<OptionType>, Option<String>)> {
    let type_name = f.str_at(map, "type", path);
    let option_type = type_name.and_then(|t| match OptionType::from_name(t) {
        Some(ty) => Some(ty),
        None => {
            f.error(
                format!("{path}.type"),
                format!("'{t}' is not an option data type"),
            );
            None
        }
    });
    let array = f.bool_at(map, "array", path).unwrap_or(false);
    let record_text = f.str_at(map, "record-types", path).unwrap_or("");
    let encapsulate = f
        .str_at(map, "encapsulate", path)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if let Some(e) = &encapsulate {
        if !is_valid_space_name(e) {
            f.error(
                format!("{path}.encapsulate"),
                format!("'{e}' is not a valid option space name"),
            );
        }
        if array {
            f.error(
                format!("{path}.encapsulate"),
                "an option that encapsulates an option space cannot be an array",
            );
        }
    }
    let option_type = option_type?;
    let record_types = check_def_types(f, path, option_type, array, record_text)?;
    Some((option_type, array, record_types, encapsulate))
}

pub(super) fn parse_option_defs(
    f: &mut Findings,
    value: Option<&Value>,
    path: &str,
) -> Vec<OptionDef> {
    let mut defs: Vec<OptionDef> = Vec::new();
    let Some(value) = value else {
        return defs;
    };
    let Some(list) = value.as_array() else {
        f.error(path, format!("expected a list, found {}", json_type(value)));
        return defs;
    };
    for (i, item) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Some(def) = parse_option_def(f, item, &p, &defs) {
            defs.push(def);
        }
    }
    defs
}

pub(super) fn parse_option_def(
    f: &mut Findings,
    value: &Value,
    path: &str,
    earlier: &[OptionDef],
) -> Option<OptionDef> {
    let map = as_map(f, value, path)?;
    let (space, name) = option_def_head(f, map, path, DHCP4_SPACE);
    let code = f
        .int_in(map, "code", path, 0, 255)
        .and_then(|c| u8::try_from(c).ok());
    let code = code.and_then(|c| {
        if space == DHCP4_SPACE && (c == 0 || c == 255) {
            f.error(
                format!("{path}.code"),
                format!("option code {c} is reserved for {}", if c == 0 { "PAD" } else { "END" }),
            );
            return None;
        }
        // Option 43 only has a last-resort definition, which a global definition replaces
        // (ARM 9.2.13, 9.2.14).
        if space == DHCP4_SPACE && c != 43 && defs::std_option_def(c).is_some() {
            f.error(
                format!("{path}.code"),
                format!("unable to override definition of option '{c}' in standard option space 'dhcp4'"),
            );
            return None;
        }
        Some(c)
    });
    let (option_type, array, record_types, encapsulate) = option_def_shape(f, map, path)?;
    let name = name?;
    let code = code?;
    if let Some(other) = earlier.iter().find(|d| d.space == space && d.code == code) {
        f.error(
            format!("{path}.code"),
            format!(
                "option code {code} is already defined in space '{space}' (as '{}')",
                other.name
            ),
        );
        return None;
    }
    if earlier.iter().any(|d| d.space == space && d.name == name) {
        f.error(
            format!("{path}.name"),
            format!("option name '{name}' is already defined in space '{space}'"),
        );
        return None;
    }
    Some(OptionDef {
        name,
        code,
        space,
        option_type,
        array,
        record_types,
        encapsulate,
    })
}

pub(super) fn find_def_by_code<'a>(
    custom: &'a [OptionDef],
    space: &str,
    code: u8,
) -> Option<DefView<'a>> {
    custom
        .iter()
        .find(|d| d.space == space && d.code == code)
        .map(OptionDef::view)
        .or_else(|| defs::std_option_def_in_space(space, code).map(|d| d.view()))
}

pub(super) fn find_def_by_name<'a>(
    custom: &'a [OptionDef],
    space: &str,
    name: &str,
) -> Option<DefView<'a>> {
    custom
        .iter()
        .find(|d| d.space == space && d.name == name)
        .map(OptionDef::view)
        .or_else(|| defs::std_option_def_in_space_by_name(space, name).map(|d| d.view()))
}

pub(super) fn parse_option_data(
    f: &mut Findings,
    value: Option<&Value>,
    path: &str,
    custom: &[OptionDef],
) -> OptionSet {
    let mut set = OptionSet::default();
    let Some(value) = value else {
        return set;
    };
    let Some(list) = value.as_array() else {
        f.error(path, format!("expected a list, found {}", json_type(value)));
        return set;
    };
    for (i, item) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Some(option) = parse_one_option(f, item, &p, custom) {
            set.options.push(option);
        }
    }
    encapsulate(&mut set, custom);
    set
}

/// The `client-classes` tags of one option-data entry (ARM 16.9), Dhcp4 and Dhcp6 alike:
/// non-empty strings. Names are not checked against the defined classes: Kea's ARM does not
/// reject a tag naming an undefined class, it just never matches (or matches a host's
/// reserved class name or a built-in like KNOWN).
pub(crate) fn option_client_classes(
    f: &mut Findings,
    map: &serde_json::Map<String, Value>,
    path: &str,
) -> Vec<String> {
    let mut client_classes = Vec::new();
    if let Some(list) = f.list_at(map, "client-classes", path) {
        for (i, v) in list.iter().enumerate() {
            match v.as_str() {
                Some("") => f.error(
                    format!("{path}.client-classes[{i}]"),
                    "class name must not be empty",
                ),
                Some(c) => client_classes.push(c.to_string()),
                None => f.error(
                    format!("{path}.client-classes[{i}]"),
                    format!("expected a string, found {}", json_type(v)),
                ),
            }
        }
    }
    client_classes
}

pub(super) fn parse_one_option(
    f: &mut Findings,
    value: &Value,
    path: &str,
    custom: &[OptionDef],
) -> Option<ConfiguredOption> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::OptionData);
    let space = f
        .str_at(map, "space", path)
        .unwrap_or(DHCP4_SPACE)
        .to_string();
    if !is_valid_space_name(&space) {
        f.error(
            format!("{path}.space"),
            format!("'{space}' is not a valid option space name"),
        );
        return None;
    }
    let name = f.str_at(map, "name", path);
    let code = f
        .int_in(map, "code", path, 0, 255)
        .and_then(|c| u8::try_from(c).ok());
    if map.get("code").is_some() && code.is_none() {
        return None;
    }
    if let Some(c) = code {
        if space == DHCP4_SPACE && (c == 0 || c == 255) {
            f.error(
                format!("{path}.code"),
                format!(
                    "option code {c} is reserved for {}",
                    if c == 0 { "PAD" } else { "END" }
                ),
            );
            return None;
        }
    }
    let data = f.str_at(map, "data", path).unwrap_or("");
    let csv_format = f.bool_at(map, "csv-format", path);
    let always_send = f.bool_at(map, "always-send", path).unwrap_or(false);
    let never_send = f.bool_at(map, "never-send", path).unwrap_or(false);
    let client_classes = option_client_classes(f, map, path);

    let def = match (code, name) {
        (Some(c), name) => {
            let def = find_def_by_code(custom, &space, c);
            if let (Some(d), Some(n)) = (&def, name) {
                if d.name != n {
                    f.error(
                        format!("{path}.name"),
                        format!(
                            "option name '{n}' does not match the definition of code {c}: '{space}.{}'",
                            d.name
                        ),
                    );
                    return None;
                }
            }
            if def.is_none() {
                if let Some(n) = name {
                    if find_def_by_name(custom, &space, n).is_some() {
                        f.error(
                            format!("{path}.code"),
                            format!("option '{space}.{n}' is not defined with code {c}"),
                        );
                        return None;
                    }
                }
            }
            def
        }
        (None, Some(n)) => match find_def_by_name(custom, &space, n) {
            Some(d) => Some(d),
            None => {
                f.error(
                    format!("{path}.name"),
                    format!("unknown option '{n}' in space '{space}' (no standard or option-def definition)"),
                );
                return None;
            }
        },
        (None, None) => {
            f.error(path, "option data needs a 'name' or a 'code'");
            return None;
        }
    };
    let data_path = format!("{path}.data");
    let payload = match def {
        Some(d) => {
            if csv_format.unwrap_or(true) {
                encode::encode_csv(&d, data)
            } else {
                encode::decode_hex(data).and_then(|bytes| encode::check_wire(&d, &bytes).map(|()| bytes))
            }
        }
        // Kea accepts an option without a definition only as explicit hex data.
        None if csv_format == Some(false) => encode::decode_hex(data),
        None => Err(format!(
            "option code {} in space '{space}' has no definition; give its data as hex with \"csv-format\": false, or define it in option-def",
            code.unwrap_or(0)
        )),
    };
    let code = code.or(def.map(|d| d.code))?;
    match payload {
        Ok(bytes) => Some(ConfiguredOption {
            code,
            space,
            data: bytes.into_boxed_slice(),
            always_send,
            never_send,
            client_classes,
        }),
        Err(message) => {
            f.error(data_path, message);
            None
        }
    }
}

/// `client-classes` (ARM 9.2.20, 14): names unique, class-local option definitions limited to
/// code 43 and the private codes 224..=254 (ARM 9.2.13), option data encoded with the class's
/// definitions first, then the global ones.
pub(super) fn parse_client_classes(
    f: &mut Findings,
    list: &[Value],
    path: &str,
    global_defs: &[OptionDef],
) -> Vec<ClientClass> {
    let mut classes: Vec<ClientClass> = Vec::new();
    let mut names: HashMap<String, String> = HashMap::new();
    for (i, item) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(map) = as_map(f, item, &p) else {
            continue;
        };
        f.check_keys(map, &p, Scope::ClientClass);
        let name = match f.str_at(map, "name", &p) {
            Some("") => {
                f.error(format!("{p}.name"), "must not be empty");
                None
            }
            Some(n) => {
                if let Some(first) = names.get(n) {
                    f.error(
                        format!("{p}.name"),
                        format!("client class '{n}' is already defined at {first}"),
                    );
                } else {
                    names.insert(n.to_string(), p.clone());
                }
                Some(n.to_string())
            }
            None => {
                if !map.contains_key("name") {
                    f.error(p.clone(), "mandatory 'name' parameter is missing");
                }
                None
            }
        };
        let mut class_defs: Vec<OptionDef> = Vec::new();
        if let Some(defs) = f.list_at(map, "option-def", &p) {
            for (j, v) in defs.iter().enumerate() {
                let dp = format!("{p}.option-def[{j}]");
                if let Some(def) = parse_option_def(f, v, &dp, &class_defs) {
                    if def.space == DHCP4_SPACE
                        && def.code != 43
                        && !(224..=254).contains(&def.code)
                    {
                        f.error(
                            format!("{dp}.code"),
                            format!(
                                "option {} cannot be defined in a client class (only 43 and 224..254)",
                                def.code
                            ),
                        );
                    } else {
                        class_defs.push(def);
                    }
                }
            }
        }
        let lookup: Vec<OptionDef> = class_defs.iter().chain(global_defs).cloned().collect();
        let options = parse_option_data(
            f,
            map.get("option-data"),
            &format!("{p}.option-data"),
            &lookup,
        );
        let params = parse_params(f, map, &p);
        let valid_lifetime = if params.sets_lifetime() {
            match lifetime_triplet(&params) {
                Ok(l) => Some(l),
                Err(message) => {
                    f.error(format!("{p}.valid-lifetime"), message);
                    None
                }
            }
        } else {
            None
        };
        let only_in_additional_list = f
            .bool_at(map, "only-in-additional-list", &p)
            .or(f.bool_at(map, "only-if-required", &p))
            .unwrap_or(false);
        let test = f.str_at(map, "test", &p).map(str::to_string);
        let template_test = f.str_at(map, "template-test", &p).map(str::to_string);
        if test.is_some() && template_test.is_some() {
            // ARM 16.4 note: test and template-test are mutually exclusive.
            f.error(
                format!("{p}.template-test"),
                "'test' and 'template-test' are mutually exclusive",
            );
        }
        // Classes defined earlier are in `names` (this one was just added: a class may not
        // test its own membership either).
        let mut earlier = names.clone();
        if let Some(n) = &name {
            if earlier.get(n) == Some(&p) {
                earlier.remove(n);
            }
        }
        if let Some(expr) = &template_test {
            check_template_test(f, expr, &format!("{p}.template-test"), &earlier, &lookup);
        }
        if let Some(expr) = &test {
            check_class_test(f, expr, &format!("{p}.test"), &earlier, &lookup);
        }
        if let Some(name) = name {
            classes.push(ClientClass {
                name,
                test,
                template_test,
                only_in_additional_list,
                options,
                option_defs: class_defs,
                next_server: params.next_server,
                server_hostname: params.server_hostname,
                boot_file_name: params.boot_file_name,
                valid_lifetime,
                offer_lifetime: params.offer_lifetime,
                user_context: user_context(map),
            });
        }
    }
    classes
}

/// The record field types and array flag of a definition, checked as Kea's
/// `OptionDefinition::validate` does (shared by Dhcp4 and Dhcp6 `option-def`).
pub(super) fn check_def_types(
    f: &mut Findings,
    path: &str,
    option_type: OptionType,
    array: bool,
    record_text: &str,
) -> Option<Vec<OptionType>> {
    let mut record_types = Vec::new();
    if option_type == OptionType::Record {
        let fields: Vec<&str> = record_text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if fields.is_empty() {
            f.error(
                format!("{path}.record-types"),
                "a record option needs its field types in record-types",
            );
            return None;
        }
        let count = fields.len();
        for (i, field) in fields.into_iter().enumerate() {
            match OptionType::from_name(field) {
                Some(OptionType::Record | OptionType::Empty) | None => {
                    f.error(
                        format!("{path}.record-types"),
                        format!("'{field}' is not a valid record field type"),
                    );
                    return None;
                }
                Some(ty @ (OptionType::String | OptionType::Binary)) if i + 1 < count => {
                    f.error(
                        format!("{path}.record-types"),
                        format!(
                            "{} data field can't be laid before data fields of other types",
                            ty.name()
                        ),
                    );
                    return None;
                }
                Some(ty) => record_types.push(ty),
            }
        }
    } else if !record_text.trim().is_empty() {
        f.error(
            format!("{path}.record-types"),
            format!(
                "record-types is only for type record, not {}",
                option_type.name()
            ),
        );
        return None;
    }
    if array
        && matches!(
            option_type,
            OptionType::String | OptionType::Binary | OptionType::Empty
        )
    {
        f.error(
            format!("{path}.array"),
            format!(
                "array of {} is not a valid option definition",
                option_type.name()
            ),
        );
        return None;
    }
    Some(record_types)
}
