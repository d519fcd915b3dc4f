//! What a run knows of the organization's projects: a directory of them, by id
//! and by name, or why they could not be listed.

use std::collections::HashMap;

use permissions_api::permissions_types::Project;

/// The organization's projects, archived ones included, by id and by name.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    projects: Vec<Project>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
}

impl Directory {
    /// A directory of `projects` (a project listed twice counts once).
    ///
    /// ```
    /// use permissions_api::permissions_types::Project;
    /// use permissions_sharing::Directory;
    ///
    /// let directory = Directory::new([
    ///     Project::new("proj_a", Some("Research"), 1),
    ///     Project::new("proj_b", Some("Research"), 2),
    /// ]);
    /// assert_eq!(directory.named("Research").count(), 2);
    /// assert_eq!(directory.name_of("proj_a"), Some("Research"));
    /// ```
    pub fn new(projects: impl IntoIterator<Item = Project>) -> Self {
        let mut directory = Self::default();
        for project in projects {
            if directory.by_id.contains_key(&project.id) {
                continue;
            }
            let index = directory.projects.len();
            directory.by_id.insert(project.id.clone(), index);
            if let Some(name) = &project.name {
                directory
                    .by_name
                    .entry(name.clone())
                    .or_default()
                    .push(index);
            }
            directory.projects.push(project);
        }
        directory
    }

    /// The project `id`, if the organization has it.
    pub fn get(&self, id: &str) -> Option<&Project> {
        self.by_id.get(id).map(|&i| &self.projects[i])
    }

    /// The projects named exactly `name` (names are not unique).
    pub fn named(&self, name: &str) -> impl Iterator<Item = &Project> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| &self.projects[i])
    }

    /// The name of project `id`, when it has one.
    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.get(id).and_then(|p| p.name.as_deref())
    }

    /// Every project, in the order they were listed.
    pub fn projects(&self) -> &[Project] {
        &self.projects
    }

    /// A name that differs from `name` only in case or surrounding spaces, for a
    /// hint when nothing is named exactly `name`.
    pub(crate) fn similar(&self, name: &str) -> Option<&str> {
        let wanted = name.trim().to_lowercase();
        self.by_name
            .keys()
            .find(|known| known.trim().to_lowercase() == wanted)
            .map(String::as_str)
    }
}

/// What is known of the organization's projects for a run.
#[derive(Clone, Debug)]
pub enum Organization {
    /// Its projects, archived ones included: every name and id is checked.
    Listed(Directory),
    /// They could not be listed (the key may not: 401 or 403). Ids are taken
    /// unchecked; names cannot be resolved and are refused with `reason`.
    Unlisted {
        /// Why, as the API said it.
        reason: String,
    },
}

impl Organization {
    /// The directory, when the projects could be listed.
    pub fn directory(&self) -> Option<&Directory> {
        match self {
            Self::Listed(directory) => Some(directory),
            Self::Unlisted { .. } => None,
        }
    }
}
