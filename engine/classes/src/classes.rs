//! Client-class tables (Kea ARM chapter 16), the same for DHCPv4 and DHCPv6.
//!
//! A [`ClassTable`] is built once per config from `client-classes`: every `test` compiled
//! into a [`Program`] for the family's universe with its `member('name')` bound to class ids
//! ([`ClassTable::member_id`]), the classes sorted into those tested before the host
//! reservation lookup and those tested after it (ARM 16.1.1), the built-in names (ALL, KNOWN,
//! UNKNOWN, VENDOR_CLASS_*, DROP) found, template classes compiled with the spawned names the
//! config can observe (ARM 16.4.1), and guards and `evaluate-additional-classes` lists
//! resolved to class indices.
//!
//! What a class gives its members (options, fields, lifetimes) is the family's `E`; a
//! [`ClassDef`] dereferences to it, so `def.options` reads the family's options.

use corelease_classify::{Program, Universe};
use corelease_config::{ClientClass, ClientClass6};
// foldhash: guards and `member()` of unbound names look class names up per packet.
use foldhash::HashMap;
use std::ops::Deref;

/// Index of a defined class in [`ClassTable::defs`].
pub type ClassIdx = u16;

/// `member()` ids of KNOWN and UNKNOWN (beyond every [`ClassIdx`]).
pub const KNOWN_ID: u32 = 1 << 16;
pub const UNKNOWN_ID: u32 = KNOWN_ID + 1;

/// Prefix of the classes the vendor class option puts a packet in (ARM 16.2): option 60's
/// value in DHCPv4, the first vendor-class-data of option 16 in DHCPv6.
pub const VENDOR_CLASS_PREFIX: &str = "VENDOR_CLASS_";

/// What the shared table reads of a family's `client-classes` entry.
pub trait ClassConfig {
    fn name(&self) -> &str;
    fn test(&self) -> Option<&str>;
    fn template_test(&self) -> Option<&str>;
    /// `only-in-additional-list` (or the older `only-if-required`).
    fn only_in_additional_list(&self) -> bool;
}

impl ClassConfig for ClientClass {
    fn name(&self) -> &str {
        &self.name
    }
    fn test(&self) -> Option<&str> {
        self.test.as_deref()
    }
    fn template_test(&self) -> Option<&str> {
        self.template_test.as_deref()
    }
    fn only_in_additional_list(&self) -> bool {
        self.only_in_additional_list
    }
}

impl ClassConfig for ClientClass6 {
    fn name(&self) -> &str {
        &self.name
    }
    fn test(&self) -> Option<&str> {
        self.test.as_deref()
    }
    fn template_test(&self) -> Option<&str> {
        self.template_test.as_deref()
    }
    fn only_in_additional_list(&self) -> bool {
        self.only_in_additional_list
    }
}

/// What a class gives its members, per family.
pub trait ClassEffects {
    /// Whether the class gives anything (options, fields, lifetimes): when no class does,
    /// replies skip the per-class merge.
    fn any(&self) -> bool;
}

/// How a defined class gets its members besides its `test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `ALL`: every packet, first of all classes.
    All,
    /// `KNOWN` / `UNKNOWN`: set after the host reservation lookup.
    Known,
    Unknown,
    /// `VENDOR_CLASS_<vendor class>`.
    Vendor,
}

/// One defined class, ready for the hot path.
pub struct ClassDef<E> {
    pub name: Box<str>,
    pub test: Option<Program>,
    /// `only-in-additional-list` (or the older `only-if-required`): evaluated only when named
    /// in an `evaluate-additional-classes` list of the chosen pool, subnet or network.
    pub only_additional: bool,
    /// The test reads KNOWN/UNKNOWN (directly or through another class that does): evaluated
    /// after the host reservation lookup (ARM 16.1.1 step 9).
    pub after_host: bool,
    pub builtin: Option<Builtin>,
    /// Membership is exactly the per-packet bit: not ALL / KNOWN / UNKNOWN / VENDOR_CLASS_*,
    /// whose names also match without the bit.
    pub plain: bool,
    /// What the class gives its members.
    pub effects: E,
}

/// A class definition reads as its family's effects (`def.options`, `def.valid`, ...).
impl<E> Deref for ClassDef<E> {
    type Target = E;
    fn deref(&self) -> &E {
        &self.effects
    }
}

/// A class named by a guard, a reservation or an additional list: a defined class, or a name
/// only known at run time (built-in names, classes only hosts or hooks assign).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassRef {
    Defined(ClassIdx),
    Named(Box<str>),
}

/// A scope's `client-classes` guard: the packet must be in at least one (ARM 16.6, 16.7).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Guard(pub Box<[ClassRef]>);

impl Guard {
    /// An empty guard admits every packet.
    pub fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    pub fn classes(&self) -> &[ClassRef] {
        &self.0
    }
}

/// A template class: its `template-test` yields the variable part of the class it spawns,
/// `SPAWN_<name>_<value>` (ARM 16.4, 16.4.1).
pub struct Template {
    pub class: ClassIdx,
    pub program: Program,
    /// The spawned names the config knows of, by value: classes it defines (a regular
    /// class named like a spawned one is how ARM 16.4.1 associates it with the packet) and
    /// names it refers to in guards, `member()`, additional lists and reservations, which
    /// are made classes without test or effects so that they are ordinary members. Other
    /// values spawn a class nothing could ever look at.
    pub spawned: HashMap<Box<[u8]>, ClassIdx>,
}

impl Template {
    /// The class a `template-test` value spawns, if the config can observe it.
    pub fn spawned(&self, value: &[u8]) -> Option<ClassIdx> {
        self.spawned.get(value).copied()
    }
}

/// Every class of one config.
pub struct ClassTable<E> {
    pub defs: Vec<ClassDef<E>>,
    by_name: HashMap<Box<str>, ClassIdx>,
    /// Classes with a test (or template test) evaluated before subnet selection, in config
    /// order.
    pub early: Vec<ClassIdx>,
    /// Classes with a test that depends on KNOWN/UNKNOWN, in config order.
    pub late: Vec<ClassIdx>,
    /// Defined classes named VENDOR_CLASS_*, with the vendor class value they stand for.
    pub vendor: Vec<(ClassIdx, Box<[u8]>)>,
    /// The defined classes named ALL, KNOWN, UNKNOWN.
    pub all: Option<ClassIdx>,
    pub known: Option<ClassIdx>,
    pub unknown: Option<ClassIdx>,
    /// The class named DROP: a packet in it is dropped (ARM 16.1.1 steps 5 and 10).
    pub drop: Option<ClassIdx>,
    /// Whether any class gives its members something ([`ClassEffects::any`]).
    pub any_effect: bool,
    /// Template classes (`template-test`, ARM 16.4.1), evaluated in config order among the
    /// tests (they sit in `early` / `late` too).
    templates: Vec<Template>,
}

impl<E> Default for ClassTable<E> {
    fn default() -> Self {
        ClassTable {
            defs: Vec::new(),
            by_name: HashMap::default(),
            early: Vec::new(),
            late: Vec::new(),
            vendor: Vec::new(),
            all: None,
            known: None,
            unknown: None,
            drop: None,
            any_effect: false,
            templates: Vec::new(),
        }
    }
}

impl<E: ClassEffects + Default> ClassTable<E> {
    /// Builds the table from a family's `client-classes`, compiled for `universe` with
    /// `resolve` naming options. `referenced` are the class names the config uses outside
    /// class definitions (guards and additional lists of every scope, reservations' classes):
    /// the spawned names among them become classes (ARM 16.4.1). Tests were checked when the
    /// config was parsed; one that does not compile here (it cannot) leaves its class without
    /// test members rather than failing.
    pub fn new<C: ClassConfig>(
        classes: &[C],
        universe: Universe,
        resolve: &dyn Fn(&str) -> Option<u16>,
        referenced: impl IntoIterator<Item = String>,
        effects: impl Fn(&C) -> E,
    ) -> Self {
        let mut t = ClassTable::default();
        // Template programs in config order, compiled as their class is built so that the
        // classes after them see whether they depend on KNOWN/UNKNOWN.
        let mut templates: Vec<(ClassIdx, Program)> = Vec::new();
        for c in classes {
            let Ok(idx) = ClassIdx::try_from(t.defs.len()) else {
                break;
            };
            let mut def = t.build_def(c, universe, resolve, &effects, &templates);
            // Checked when the config was parsed (a string expression); one that does not
            // compile here (it cannot) spawns nothing.
            let template = c
                .template_test()
                .and_then(|expr| corelease_classify::compile_with(expr, universe, resolve).ok());
            if let Some(program) = &template {
                def.after_host = t.depends_on_host(program, &templates);
            }
            // ARM 16.1.1 steps 3 and 9: tests (and template tests) run in config order,
            // before or after the host lookup; only-in-additional-list ones only from an
            // evaluate-additional-classes list (ARM 16.4.1).
            if (def.test.is_some() || template.is_some()) && !def.only_additional {
                if def.after_host {
                    t.late.push(idx);
                } else {
                    t.early.push(idx);
                }
            }
            if let Some(program) = template {
                templates.push((idx, program));
            }
            match def.builtin {
                Some(Builtin::All) => t.all = Some(idx),
                Some(Builtin::Known) => t.known = Some(idx),
                Some(Builtin::Unknown) => t.unknown = Some(idx),
                Some(Builtin::Vendor) => {
                    let value = def.name.get(VENDOR_CLASS_PREFIX.len()..).unwrap_or("");
                    t.vendor.push((idx, value.as_bytes().into()));
                }
                None => {}
            }
            if def.name.as_ref() == "DROP" {
                t.drop = Some(idx);
            }
            t.any_effect |= def.effects.any();
            t.by_name.insert(def.name.clone(), idx);
            t.defs.push(def);
        }
        let mut referenced: Vec<String> = referenced.into_iter().collect();
        for d in &t.defs {
            if let Some(p) = &d.test {
                referenced.extend(p.member_classes().map(str::to_string));
            }
        }
        for (_, p) in &templates {
            referenced.extend(p.member_classes().map(str::to_string));
        }
        referenced.sort_unstable();
        referenced.dedup();
        t.add_templates(templates, &referenced);
        t
    }

    fn build_def<C>(
        &self,
        c: &C,
        universe: Universe,
        resolve: &dyn Fn(&str) -> Option<u16>,
        effects: &dyn Fn(&C) -> E,
        templates: &[(ClassIdx, Program)],
    ) -> ClassDef<E>
    where
        C: ClassConfig,
    {
        let mut def = self.bare_def(c.name());
        def.test = c.test().and_then(|expr| {
            let mut program = corelease_classify::compile_test(expr, universe, resolve).ok()?;
            program.bind_classes(|name| self.member_id(name));
            Some(program)
        });
        def.after_host = def
            .test
            .as_ref()
            .is_some_and(|p| self.depends_on_host(p, templates));
        def.only_additional = c.only_in_additional_list();
        def.effects = effects(c);
        def
    }

    /// A class with no test and no effects (what a spawned name the config refers to is).
    fn bare_def(&self, name: &str) -> ClassDef<E> {
        let builtin = match name {
            "ALL" => Some(Builtin::All),
            "KNOWN" => Some(Builtin::Known),
            "UNKNOWN" => Some(Builtin::Unknown),
            n if n.starts_with(VENDOR_CLASS_PREFIX) => Some(Builtin::Vendor),
            _ => None,
        };
        ClassDef {
            name: name.into(),
            test: None,
            only_additional: false,
            after_host: false,
            builtin,
            plain: builtin.is_none(),
            effects: E::default(),
        }
    }

    /// Whether a test (or template test) must wait for the host reservation lookup (ARM 16
    /// "known and unknown ...": an expression using KNOWN directly or indirectly is deferred;
    /// Kea's `depend_on_known`): it reads `known` / `unknown`, `member('KNOWN')` /
    /// `member('UNKNOWN')`, or `member()` of a class that is itself deferred. A spawned name
    /// `SPAWN_<t>_<v>` is deferred with its template class `t` (among `templates`, the
    /// templates defined so far): the packet joins it only when `t`'s template test runs.
    fn depends_on_host(&self, program: &Program, templates: &[(ClassIdx, Program)]) -> bool {
        program.depends_on_known()
            || program.member_classes().any(|m| {
                m == "KNOWN"
                    || m == "UNKNOWN"
                    || self
                        .index_of(m)
                        .and_then(|i| self.def(i))
                        .is_some_and(|d| d.after_host)
                    || self.spawned_by_deferred_template(m, templates)
            })
    }

    /// Whether `name` is `SPAWN_<t>_<v>` for a template class `t` evaluated after the host
    /// lookup.
    fn spawned_by_deferred_template(&self, name: &str, templates: &[(ClassIdx, Program)]) -> bool {
        let Some(rest) = name.strip_prefix("SPAWN_") else {
            return false;
        };
        templates.iter().any(|&(i, _)| {
            self.def(i).is_some_and(|d| {
                d.after_host
                    && rest
                        .strip_prefix(d.name.as_ref())
                        .is_some_and(|v| v.starts_with('_'))
            })
        })
    }

    /// ARM 16.4.1: resolves the spawned names of each template class (compiled, in config
    /// order, with its class) that the config can observe (see [`Template`]). A spawned class
    /// made here is evaluated when its template is: before or after the host lookup.
    fn add_templates(&mut self, templates: Vec<(ClassIdx, Program)>, referenced: &[String]) {
        for (class, program) in templates {
            let Some((template_name, after_host)) =
                self.def(class).map(|d| (d.name.to_string(), d.after_host))
            else {
                continue;
            };
            let prefix = format!("SPAWN_{template_name}_");
            let mut names: Vec<String> = self
                .by_name
                .keys()
                .filter(|n| n.starts_with(&prefix))
                .map(|n| n.to_string())
                .collect();
            names.extend(
                referenced
                    .iter()
                    .filter(|n| n.starts_with(&prefix) && self.index_of(n).is_none())
                    .cloned(),
            );
            let mut spawned = HashMap::default();
            for name in names {
                let idx = match self.index_of(&name) {
                    Some(i) => i,
                    None => {
                        let Ok(i) = ClassIdx::try_from(self.defs.len()) else {
                            break;
                        };
                        let mut def = self.bare_def(&name);
                        def.after_host = after_host;
                        self.by_name.insert(def.name.clone(), i);
                        self.defs.push(def);
                        i
                    }
                };
                if let Some(value) = name.get(prefix.len()..) {
                    spawned.insert(value.as_bytes().into(), idx);
                }
            }
            self.templates.push(Template {
                class,
                program,
                spawned,
            });
        }
    }
}

impl<E> ClassTable<E> {
    /// The id `member(name)` is bound to at load ([`Program::bind_classes`]): a plain defined
    /// class's index, or [`KNOWN_ID`] / [`UNKNOWN_ID`]. Other names (ALL, VENDOR_CLASS_*,
    /// undefined names a host may carry) stay by name.
    pub fn member_id(&self, name: &str) -> Option<u32> {
        match name {
            "KNOWN" => Some(KNOWN_ID),
            "UNKNOWN" => Some(UNKNOWN_ID),
            _ => self
                .index_of(name)
                .filter(|&i| self.def(i).is_some_and(|d| d.plain))
                .map(u32::from),
        }
    }

    /// `member(name)` for a name bound to `id` ([`ClassTable::member_id`]), answered as the
    /// by-name question would be: a plain class is exactly its bit (a host's undefined class
    /// names never equal a defined name); KNOWN / UNKNOWN is the host lookup's outcome
    /// (`known`) or the bit of a class defined under that name. `by_name` answers an id this
    /// table never hands out.
    #[inline]
    pub fn is_member_id(
        &self,
        id: u32,
        known: Option<bool>,
        is_defined_member: impl Fn(ClassIdx) -> bool,
        by_name: impl FnOnce() -> bool,
    ) -> bool {
        let builtin = |def: Option<ClassIdx>, want: bool| {
            def.is_some_and(&is_defined_member) || known == Some(want)
        };
        match id {
            KNOWN_ID => builtin(self.known, true),
            UNKNOWN_ID => builtin(self.unknown, false),
            _ => match ClassIdx::try_from(id) {
                Ok(i) => is_defined_member(i),
                Err(_) => by_name(),
            },
        }
    }

    pub fn template(&self, class: ClassIdx) -> Option<&Template> {
        self.templates.iter().find(|t| t.class == class)
    }

    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// The defined VENDOR_CLASS_<value> class of a packet's vendor class value.
    pub fn vendor_class(&self, value: &[u8]) -> Option<ClassIdx> {
        self.vendor
            .iter()
            .find(|(_, v)| **v == *value)
            .map(|&(i, _)| i)
    }

    pub fn len(&self) -> usize {
        self.defs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    pub fn index_of(&self, name: &str) -> Option<ClassIdx> {
        self.by_name.get(name).copied()
    }

    pub fn def(&self, idx: ClassIdx) -> Option<&ClassDef<E>> {
        self.defs.get(usize::from(idx))
    }

    pub fn class_ref(&self, name: &str) -> ClassRef {
        match self.index_of(name) {
            Some(i) => ClassRef::Defined(i),
            None => ClassRef::Named(name.into()),
        }
    }

    pub fn guard(&self, names: &[String]) -> Guard {
        Guard(names.iter().map(|n| self.class_ref(n)).collect())
    }

    /// Defined classes of an `evaluate-additional-classes` list (an undefined name has no
    /// test and no effects, so evaluating it changes nothing).
    pub fn additional(&self, names: &[String]) -> Box<[ClassIdx]> {
        names.iter().filter_map(|n| self.index_of(n)).collect()
    }
}

/// The classes of a packet as Kea lists them in its logs (ALLOC_ENGINE_V4_ALLOC_FAIL_CLASSES,
/// ALLOC_ENGINE_V6_ALLOC_FAIL_CLASSES): ALL, the vendor class, the assigned classes in
/// order, KNOWN or UNKNOWN; built-in names whether or not the config defines them. Only
/// formatted when the log line is written.
pub struct ClassNames<'a, E> {
    pub defs: &'a [ClassDef<E>],
    /// [`ClassTable::vendor`].
    pub vendor_classes: &'a [(ClassIdx, Box<[u8]>)],
    /// The assigned defined classes, in order.
    pub order: &'a [ClassIdx],
    /// The host lookup's outcome, once known.
    pub known: Option<bool>,
    /// The packet's vendor class value.
    pub vendor: Option<&'a [u8]>,
}

impl<E> std::fmt::Display for ClassNames<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |i: ClassIdx| self.defs.get(usize::from(i)).map(|d| &*d.name);
        let assigned = |n: &str| self.order.iter().any(|&i| name(i) == Some(n));
        f.write_str("ALL")?;
        if let Some(v) = self.vendor {
            let defined = self
                .vendor_classes
                .iter()
                .any(|(i, value)| **value == *v && self.order.contains(i));
            if !defined {
                write!(f, ", {VENDOR_CLASS_PREFIX}{}", String::from_utf8_lossy(v))?;
            }
        }
        for n in self.order.iter().filter_map(|&i| name(i)) {
            if n != "ALL" {
                write!(f, ", {n}")?;
            }
        }
        match self.known {
            Some(true) if !assigned("KNOWN") => f.write_str(", KNOWN"),
            Some(false) if !assigned("UNKNOWN") => f.write_str(", UNKNOWN"),
            _ => Ok(()),
        }
    }
}
