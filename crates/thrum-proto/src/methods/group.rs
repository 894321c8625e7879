//! `group.*` methods.

use serde::{Deserialize, Serialize};
use thrum_core::views::{GroupMemberInfo, GroupSummary};

pub const CREATE: &str = "group.create";
pub const DELETE: &str = "group.delete";
pub const MEMBER_ADD: &str = "group.member.add";
pub const MEMBER_REMOVE: &str = "group.member.remove";
pub const LIST: &str = "group.list";
pub const INFO: &str = "group.info";
pub const MEMBERS: &str = "group.members";

/// The built-in group that holds every agent.
pub const EVERYONE: &str = "everyone";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateParams {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateResult {
    pub group_id: String,
    pub name: String,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NameParams {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub expand: bool,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub delete_messages: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteResult {
    pub name: String,
    pub deleted_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemberParams {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub member_type: String,
    #[serde(default)]
    pub member_value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemberResult {
    pub group: String,
    pub member_type: String,
    pub member_value: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListResult {
    pub groups: Vec<GroupSummary>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MembersResult {
    pub members: Vec<GroupMemberInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expanded: Vec<String>,
}
