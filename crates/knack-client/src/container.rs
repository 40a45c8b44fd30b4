//! Containers: where records come from in a Knack app.

use std::fmt;

use crate::Error;

/// A source of records in a Knack app: an object (a table) or a view (a UI
/// component inside a scene). "Container" is the term knackpy and the original
/// services use for either.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Container {
    /// An object, such as `object_3`. Read with the API key.
    Object {
        /// The object key, `object_N`.
        object: String,
    },
    /// A view, such as `view_1` in `scene_1`. Knack routes view requests
    /// through the scene, so a view cannot be addressed without it.
    View {
        /// The scene key, `scene_N`.
        scene: String,
        /// The view key, `view_N`.
        view: String,
    },
}

impl Container {
    /// An object container.
    ///
    /// # Errors
    /// [`Error::InvalidContainer`] when `key` is not shaped like `object_N`.
    pub fn object(key: impl Into<String>) -> crate::Result<Self> {
        let object = key.into();
        check_key(&object, "object_")?;
        Ok(Self::Object { object })
    }

    /// A view container in its scene.
    ///
    /// # Errors
    /// [`Error::InvalidContainer`] when the keys are not shaped like `scene_N` / `view_N`.
    pub fn view(scene: impl Into<String>, view: impl Into<String>) -> crate::Result<Self> {
        let (scene, view) = (scene.into(), view.into());
        check_key(&scene, "scene_")?;
        check_key(&view, "view_")?;
        Ok(Self::View { scene, view })
    }

    /// Parses a container id as the config names it (`object_N` or `view_N`),
    /// with the scene a view needs.
    ///
    /// # Errors
    /// [`Error::InvalidContainer`] for a malformed key, or for a view given
    /// without its scene (Knack has no route to a view without it).
    pub fn parse(id: &str, scene: Option<&str>) -> crate::Result<Self> {
        if id.starts_with("object_") {
            Self::object(id)
        } else if id.starts_with("view_") {
            match scene {
                Some(scene) => Self::view(scene, id),
                None => Err(Error::InvalidContainer {
                    id: id.to_string(),
                    reason: "a view needs its scene: set scene_id (for example scene_1) for this container".into(),
                }),
            }
        } else {
            Err(Error::InvalidContainer {
                id: id.to_string(),
                reason: "expected an object key (object_N) or a view key (view_N)".into(),
            })
        }
    }

    /// The container id: the object key or the view key.
    pub fn id(&self) -> &str {
        match self {
            Self::Object { object } => object,
            Self::View { view, .. } => view,
        }
    }

    /// The API path of the container's records, relative to the base URL.
    pub fn records_path(&self) -> String {
        match self {
            Self::Object { object } => format!("objects/{object}/records"),
            Self::View { scene, view } => format!("pages/{scene}/views/{view}/records"),
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Object { object } => f.write_str(object),
            Self::View { scene, view } => write!(f, "{view} (in {scene})"),
        }
    }
}

fn check_key(key: &str, prefix: &str) -> crate::Result<()> {
    let ok = key
        .strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidContainer {
            id: key.to_string(),
            reason: format!("expected a key shaped like {prefix}N, N a number"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_objects_and_views() {
        assert_eq!(
            Container::parse("object_3", None).unwrap().records_path(),
            "objects/object_3/records"
        );
        let v = Container::parse("view_1", Some("scene_2")).unwrap();
        assert_eq!(v.records_path(), "pages/scene_2/views/view_1/records");
        assert_eq!(v.id(), "view_1");
    }

    #[test]
    fn a_view_without_its_scene_says_so() {
        let err = Container::parse("view_1", None).unwrap_err().to_string();
        assert!(err.contains("scene_id"), "{err}");
        assert!(Container::parse("table_1", None).is_err());
        assert!(Container::parse("object_x", None).is_err());
        assert!(Container::parse("view_1", Some("scene_")).is_err());
    }
}
