//! The compile budget: one streaming parse of an upload (no validation, no
//! compilation) that counts what compiling it would cost — core functions,
//! code bytes, the largest function body, core modules, component nesting —
//! and refuses a component over any limit before a compiler sees it.

use std::ops::Range;

use wasmparser::{Parser, Payload};

use super::error::LoadError;

/// The most a component may hold to be compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Core function bodies over all core modules.
    pub max_functions: u64,
    /// Bytes of code (code sections) over all core modules.
    pub max_code_bytes: u64,
    /// Bytes of the largest single function body.
    pub max_function_bytes: u64,
    /// Core modules, nested ones included.
    pub max_modules: u64,
    /// Components inside components, the outermost counting 1.
    pub max_nesting: u32,
}

impl Budget {
    /// Default cap of core functions: 100,000 (a large Rust plugin has a
    /// few thousand).
    pub const DEFAULT_MAX_FUNCTIONS: u64 = 100_000;
    /// Default cap of code bytes: 16 MiB.
    pub const DEFAULT_MAX_CODE_BYTES: u64 = 16 << 20;
    /// Default cap of one function body: 1 MiB.
    pub const DEFAULT_MAX_FUNCTION_BYTES: u64 = 1 << 20;
    /// Default cap of core modules: 64.
    pub const DEFAULT_MAX_MODULES: u64 = 64;
    /// Default cap of component nesting: 8.
    pub const DEFAULT_MAX_NESTING: u32 = 8;
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_functions: Self::DEFAULT_MAX_FUNCTIONS,
            max_code_bytes: Self::DEFAULT_MAX_CODE_BYTES,
            max_function_bytes: Self::DEFAULT_MAX_FUNCTION_BYTES,
            max_modules: Self::DEFAULT_MAX_MODULES,
            max_nesting: Self::DEFAULT_MAX_NESTING,
        }
    }
}

/// What a component would cost to compile, as counted by [`measure`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Core function bodies.
    pub functions: u64,
    /// Bytes of code sections.
    pub code_bytes: u64,
    /// Bytes of the largest function body.
    pub largest_function_bytes: u64,
    /// Core modules.
    pub modules: u64,
    /// Deepest component nesting (the outermost component is 1).
    pub nesting: u32,
}

/// Counts what compiling `bytes` would cost, stopping at the first limit of
/// `budget` passed: the error names the number found (so far) and the
/// limit. Malformed bytes are [`LoadError::Invalid`].
pub(crate) fn measure(bytes: &[u8], budget: &Budget) -> Result<Cost, LoadError> {
    let mut cost = Cost::default();
    // One entry per enclosing component or module: whether it is a component.
    let mut stack: Vec<bool> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|error| LoadError::Invalid {
            detail: error.to_string(),
        })?;
        match payload {
            Payload::Version { encoding, .. } => {
                let component = matches!(encoding, wasmparser::Encoding::Component);
                stack.push(component);
                if component {
                    let depth = stack.iter().filter(|is_component| **is_component).count();
                    cost.nesting = cost.nesting.max(u32::try_from(depth).unwrap_or(u32::MAX));
                    over(
                        "nesting_too_deep",
                        "levels of nested components",
                        u64::from(cost.nesting),
                        u64::from(budget.max_nesting),
                        "levels deep",
                    )?;
                } else {
                    cost.modules += 1;
                    over(
                        "too_many_modules",
                        "core modules",
                        cost.modules,
                        budget.max_modules,
                        "modules",
                    )?;
                }
            }
            Payload::CodeSectionStart { count, size, .. } => {
                // The declared totals are checked before any body is read,
                // so a bomb is refused after reading a few bytes of it.
                cost.functions += u64::from(count);
                over(
                    "too_many_functions",
                    "core functions",
                    cost.functions,
                    budget.max_functions,
                    "functions",
                )?;
                cost.code_bytes += u64::from(size);
                over(
                    "code_too_large",
                    "bytes of code",
                    cost.code_bytes,
                    budget.max_code_bytes,
                    "bytes",
                )?;
            }
            Payload::CodeSectionEntry(body) => {
                let size = range_len(body.range());
                cost.largest_function_bytes = cost.largest_function_bytes.max(size);
                over(
                    "function_too_large",
                    "bytes in one function body",
                    cost.largest_function_bytes,
                    budget.max_function_bytes,
                    "bytes",
                )?;
            }
            Payload::End(_) => {
                stack.pop();
            }
            _ => {}
        }
    }
    Ok(cost)
}

fn range_len(range: Range<usize>) -> u64 {
    (range.end - range.start) as u64
}

/// [`LoadError::OverBudget`] when `found` passes `limit`.
fn over(
    code: &'static str,
    what: &str,
    found: u64,
    limit: u64,
    unit: &str,
) -> Result<(), LoadError> {
    if found <= limit {
        return Ok(());
    }
    Err(LoadError::OverBudget {
        code,
        detail: format!(
            "component has at least {found} {what}, over the compile budget of {limit} {unit}; \
             refused before compiling"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component holding one core module with `functions` empty functions.
    fn component_with_functions(functions: usize) -> Vec<u8> {
        let mut text = String::from("(component (core module");
        for _ in 0..functions {
            text.push_str(" (func)");
        }
        text.push_str("))");
        wat::parse_str(text).unwrap()
    }

    fn code_of(error: LoadError) -> (&'static str, String) {
        match error {
            LoadError::OverBudget { code, detail } => (code, detail),
            other => panic!("not an over-budget error: {other}"),
        }
    }

    #[test]
    fn counts_functions_code_modules_and_nesting() {
        let bytes = wat::parse_str(
            r#"(component
                (core module (func) (func (result i32) i32.const 7))
                (component (core module (func)) (component (core module))))"#,
        )
        .unwrap();
        let cost = measure(&bytes, &Budget::default()).unwrap();
        assert_eq!(cost.functions, 3);
        assert_eq!(cost.modules, 3);
        assert_eq!(cost.nesting, 3);
        assert!(
            cost.code_bytes > 0 && cost.largest_function_bytes > 0,
            "{cost:?}"
        );
        assert!(cost.largest_function_bytes <= cost.code_bytes, "{cost:?}");
    }

    #[test]
    fn too_many_functions_names_the_count_and_the_limit() {
        let budget = Budget {
            max_functions: 100,
            ..Budget::default()
        };
        measure(&component_with_functions(100), &budget).unwrap();
        let (code, detail) = code_of(measure(&component_with_functions(101), &budget).unwrap_err());
        assert_eq!(code, "too_many_functions");
        assert!(detail.contains("101 core functions"), "{detail}");
        assert!(detail.contains("100 functions"), "{detail}");
    }

    #[test]
    fn functions_are_counted_over_all_modules() {
        let bytes = wat::parse_str(
            "(component (core module (func) (func)) (component (core module (func) (func))))",
        )
        .unwrap();
        let budget = Budget {
            max_functions: 3,
            ..Budget::default()
        };
        let (code, detail) = code_of(measure(&bytes, &budget).unwrap_err());
        assert_eq!(code, "too_many_functions");
        assert!(detail.contains("4 core functions"), "{detail}");
    }

    #[test]
    fn code_bytes_and_function_size_are_capped() {
        let bytes = component_with_functions(50);
        let cost = measure(&bytes, &Budget::default()).unwrap();
        let small_code = Budget {
            max_code_bytes: cost.code_bytes - 1,
            ..Budget::default()
        };
        let (code, detail) = code_of(measure(&bytes, &small_code).unwrap_err());
        assert_eq!(code, "code_too_large");
        assert!(detail.contains(&cost.code_bytes.to_string()), "{detail}");

        let big_body = wat::parse_str(format!(
            "(component (core module (func {})))",
            "(drop (i32.const 1)) ".repeat(100)
        ))
        .unwrap();
        let small_function = Budget {
            max_function_bytes: 64,
            ..Budget::default()
        };
        let (code, detail) = code_of(measure(&big_body, &small_function).unwrap_err());
        assert_eq!(code, "function_too_large");
        assert!(
            detail.contains("over the compile budget of 64 bytes"),
            "{detail}"
        );
    }

    #[test]
    fn modules_and_nesting_are_capped() {
        let modules =
            wat::parse_str(format!("(component {})", "(core module) ".repeat(3))).unwrap();
        let budget = Budget {
            max_modules: 2,
            ..Budget::default()
        };
        let (code, detail) = code_of(measure(&modules, &budget).unwrap_err());
        assert_eq!(code, "too_many_modules");
        assert!(detail.contains("3 core modules"), "{detail}");

        let nested =
            wat::parse_str(format!("{}{}", "(component ".repeat(4), ")".repeat(4))).unwrap();
        let budget = Budget {
            max_nesting: 3,
            ..Budget::default()
        };
        let (code, detail) = code_of(measure(&nested, &budget).unwrap_err());
        assert_eq!(code, "nesting_too_deep");
        assert!(detail.contains("4 levels of nested components"), "{detail}");
    }

    #[test]
    fn malformed_bytes_are_invalid() {
        let mut bytes = component_with_functions(3);
        bytes.truncate(bytes.len() - 2);
        let error = measure(&bytes, &Budget::default()).unwrap_err();
        assert!(matches!(error, LoadError::Invalid { .. }), "{error}");
    }
}
