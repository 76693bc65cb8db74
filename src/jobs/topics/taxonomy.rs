//! `pipelines/rules/topics.toml`: the categories user messages are counted under.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;
use toml::Spanned;

use crate::error::{Problems, UsageError};
use crate::text::normalize::view_words;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaxonomySpec {
    #[serde(rename = "category")]
    categories: Vec<CategorySpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategorySpec {
    name: Spanned<String>,
    keywords: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub name: String,
    /// In the normalised view, as words are.
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taxonomy {
    pub categories: Vec<Category>,
}

impl Taxonomy {
    pub fn load(path: &Path) -> Result<Taxonomy> {
        let source = std::fs::read_to_string(path)
            .with_context(|| format!("reading the topic taxonomy {}", path.display()))?;
        Taxonomy::parse(path, &source)
    }

    /// The shipped `pipelines/rules/topics.toml`, compiled in.
    pub fn built_in() -> Taxonomy {
        Taxonomy::parse(
            Path::new("pipelines/rules/topics.toml (built in)"),
            include_str!("../../../pipelines/rules/topics.toml"),
        )
        .expect("the shipped taxonomy is valid: a test loads it")
    }

    pub fn parse(path: &Path, source: &str) -> Result<Taxonomy> {
        let mut problems = Problems::new(path, source);
        let spec: TaxonomySpec = problems.parse_toml()?;
        let mut names = HashSet::new();
        let mut categories = Vec::new();
        for category in spec.categories {
            let name = category.name.get_ref().trim().to_owned();
            if name.is_empty() || !names.insert(name.clone()) {
                problems.at(
                    category.name.span(),
                    format!("category name `{name}` is empty or used twice"),
                );
            }
            let keywords = view_words(&category.keywords);
            if keywords.is_empty() {
                problems.at(
                    category.name.span(),
                    format!("category `{name}` has no keywords"),
                );
            }
            categories.push(Category { name, keywords });
        }
        if !problems.found.is_empty() {
            return Err(UsageError::Invalid(format!(
                "the topic taxonomy has {} problem(s):\n{}",
                problems.found.len(),
                problems.found.join("\n")
            ))
            .into());
        }
        Ok(Taxonomy { categories })
    }

    /// The category of a normalised text (a question's wording): the first with a
    /// keyword in it.
    pub fn category_in(&self, text: &str) -> Option<usize> {
        self.categories.iter().position(|category| {
            category
                .keywords
                .iter()
                .any(|keyword| text.contains(keyword.as_str()))
        })
    }

    /// The category a word belongs to: the first listing it as a keyword, else the
    /// first with a keyword inside it.
    pub fn category_of(&self, word: &str) -> Option<usize> {
        self.categories
            .iter()
            .position(|category| category.keywords.iter().any(|k| k == word))
            .or_else(|| {
                self.categories.iter().position(|category| {
                    category
                        .keywords
                        .iter()
                        .any(|k| k.chars().count() > 1 && word.contains(k.as_str()))
                })
            })
    }
}
