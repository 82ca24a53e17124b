export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]

export type Database = {
  // Allows to automatically instantiate createClient with right options
  // instead of createClient<Database, { PostgrestVersion: 'XX' }>(URL, KEY)
  __InternalSupabase: {
    PostgrestVersion: "12.0.2"
  }
  public: {
    Tables: {
      audit_log: {
        Row: {
          action: string
          actor_id: string | null
          actor_role: string | null
          details: NonNullable<Json>
          id: number
          occurred_at: string
          target_id: string
          target_table: string
        }
        Insert: {
          action: string
          actor_id?: string | null
          actor_role?: string | null
          details?: NonNullable<Json>
          id?: never
          occurred_at?: string
          target_id: string
          target_table: string
        }
        Update: {
          action?: string
          actor_id?: string | null
          actor_role?: string | null
          details?: NonNullable<Json>
          id?: never
          occurred_at?: string
          target_id?: string
          target_table?: string
        }
        Relationships: []
      }
      broadcast_messages: {
        Row: {
          audience: NonNullable<Json>
          content: string
          created_at: string | null
          created_by: string | null
          erased_recipients: NonNullable<Json>
          id: string
          name: string
          scheduled_for: string | null
          sent_at: string | null
          status: string | null
          status_detail: string | null
          template_id: string | null
        }
        Insert: {
          audience?: NonNullable<Json>
          content: string
          created_at?: string | null
          created_by?: string | null
          erased_recipients?: NonNullable<Json>
          id?: string
          name: string
          scheduled_for?: string | null
          sent_at?: string | null
          status?: string | null
          status_detail?: string | null
          template_id?: string | null
        }
        Update: {
          audience?: NonNullable<Json>
          content?: string
          created_at?: string | null
          created_by?: string | null
          erased_recipients?: NonNullable<Json>
          id?: string
          name?: string
          scheduled_for?: string | null
          sent_at?: string | null
          status?: string | null
          status_detail?: string | null
          template_id?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "broadcast_messages_created_by_fkey"
            columns: ["created_by"]
            isOneToOne: false
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "broadcast_messages_template_id_fkey"
            columns: ["template_id"]
            isOneToOne: false
            referencedRelation: "message_templates"
            referencedColumns: ["id"]
          },
        ]
      }
      broadcast_recipients: {
        Row: {
          broadcast_id: string
          contact_id: string
          delivered_at: string | null
          error_message: string | null
          pricing: Json | null
          sent_at: string | null
          status: string | null
          wa_message_id: string | null
        }
        Insert: {
          broadcast_id: string
          contact_id: string
          delivered_at?: string | null
          error_message?: string | null
          pricing?: Json | null
          sent_at?: string | null
          status?: string | null
          wa_message_id?: string | null
        }
        Update: {
          broadcast_id?: string
          contact_id?: string
          delivered_at?: string | null
          error_message?: string | null
          pricing?: Json | null
          sent_at?: string | null
          status?: string | null
          wa_message_id?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "broadcast_recipients_broadcast_id_fkey"
            columns: ["broadcast_id"]
            isOneToOne: false
            referencedRelation: "broadcast_messages"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "broadcast_recipients_contact_id_fkey"
            columns: ["contact_id"]
            isOneToOne: false
            referencedRelation: "contacts"
            referencedColumns: ["id"]
          },
        ]
      }
      contacts: {
        Row: {
          avatar_url: string | null
          created_at: string | null
          email: string | null
          full_name: string | null
          id: string
          language: string | null
          last_contacted_at: string | null
          location: string | null
          metadata: Json | null
          opted_out_at: string | null
          phone: string | null
          status: string | null
          tags: string[] | null
          timezone: string | null
          wa_id: string | null
          wa_user_id: string | null
        }
        Insert: {
          avatar_url?: string | null
          created_at?: string | null
          email?: string | null
          full_name?: string | null
          id?: string
          language?: string | null
          last_contacted_at?: string | null
          location?: string | null
          metadata?: Json | null
          opted_out_at?: string | null
          phone?: string | null
          status?: string | null
          tags?: string[] | null
          timezone?: string | null
          wa_id?: string | null
          wa_user_id?: string | null
        }
        Update: {
          avatar_url?: string | null
          created_at?: string | null
          email?: string | null
          full_name?: string | null
          id?: string
          language?: string | null
          last_contacted_at?: string | null
          location?: string | null
          metadata?: Json | null
          opted_out_at?: string | null
          phone?: string | null
          status?: string | null
          tags?: string[] | null
          timezone?: string | null
          wa_id?: string | null
          wa_user_id?: string | null
        }
        Relationships: []
      }
      conversation_labels: {
        Row: {
          conversation_id: string
          created_at: string | null
          created_by: string | null
          label_id: string
        }
        Insert: {
          conversation_id: string
          created_at?: string | null
          created_by?: string | null
          label_id: string
        }
        Update: {
          conversation_id?: string
          created_at?: string | null
          created_by?: string | null
          label_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "conversation_labels_conversation_id_fkey"
            columns: ["conversation_id"]
            isOneToOne: false
            referencedRelation: "conversations"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "conversation_labels_created_by_fkey"
            columns: ["created_by"]
            isOneToOne: false
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "conversation_labels_label_id_fkey"
            columns: ["label_id"]
            isOneToOne: false
            referencedRelation: "labels"
            referencedColumns: ["id"]
          },
        ]
      }
      conversations: {
        Row: {
          assigned_agent_id: string | null
          contact_id: string
          created_at: string | null
          first_response_time: string | null
          id: string
          last_agent_response_at: string | null
          last_message_at: string | null
          metadata: Json | null
          priority: string | null
          status: string | null
          unread_count: number
        }
        Insert: {
          assigned_agent_id?: string | null
          contact_id: string
          created_at?: string | null
          first_response_time?: string | null
          id?: string
          last_agent_response_at?: string | null
          last_message_at?: string | null
          metadata?: Json | null
          priority?: string | null
          status?: string | null
          unread_count?: number
        }
        Update: {
          assigned_agent_id?: string | null
          contact_id?: string
          created_at?: string | null
          first_response_time?: string | null
          id?: string
          last_agent_response_at?: string | null
          last_message_at?: string | null
          metadata?: Json | null
          priority?: string | null
          status?: string | null
          unread_count?: number
        }
        Relationships: [
          {
            foreignKeyName: "conversations_assigned_agent_id_fkey"
            columns: ["assigned_agent_id"]
            isOneToOne: false
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "conversations_contact_id_fkey"
            columns: ["contact_id"]
            isOneToOne: false
            referencedRelation: "contacts"
            referencedColumns: ["id"]
          },
        ]
      }
      inbox_settings: {
        Row: {
          auto_assign: boolean
          id: boolean
        }
        Insert: {
          auto_assign?: boolean
          id?: boolean
        }
        Update: {
          auto_assign?: boolean
          id?: boolean
        }
        Relationships: []
      }
      invitations: {
        Row: {
          accepted_at: string | null
          accepted_user_id: string | null
          attempts: number
          created_at: string
          email: string
          id: string
          invited_by: string | null
          last_error: string | null
          lease_expires_at: string | null
          lease_owner: string | null
          next_attempt_at: string | null
          revoked_at: string | null
          role: string
          sent_at: string | null
          status: string
        }
        Insert: {
          accepted_at?: string | null
          accepted_user_id?: string | null
          attempts?: number
          created_at?: string
          email: string
          id?: string
          invited_by?: string | null
          last_error?: string | null
          lease_expires_at?: string | null
          lease_owner?: string | null
          next_attempt_at?: string | null
          revoked_at?: string | null
          role?: string
          sent_at?: string | null
          status?: string
        }
        Update: {
          accepted_at?: string | null
          accepted_user_id?: string | null
          attempts?: number
          created_at?: string
          email?: string
          id?: string
          invited_by?: string | null
          last_error?: string | null
          lease_expires_at?: string | null
          lease_owner?: string | null
          next_attempt_at?: string | null
          revoked_at?: string | null
          role?: string
          sent_at?: string | null
          status?: string
        }
        Relationships: [
          {
            foreignKeyName: "invitations_accepted_user_id_fkey"
            columns: ["accepted_user_id"]
            isOneToOne: false
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "invitations_invited_by_fkey"
            columns: ["invited_by"]
            isOneToOne: false
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      labels: {
        Row: {
          color: string | null
          created_at: string | null
          created_by: string | null
          id: string
          name: string
        }
        Insert: {
          color?: string | null
          created_at?: string | null
          created_by?: string | null
          id?: string
          name: string
        }
        Update: {
          color?: string | null
          created_at?: string | null
          created_by?: string | null
          id?: string
          name?: string
        }
        Relationships: [
          {
            foreignKeyName: "labels_created_by_fkey"
            columns: ["created_by"]
            isOneToOne: false
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      message_templates: {
        Row: {
          category: string | null
          components: NonNullable<Json>
          content: string
          created_at: string | null
          created_by: string | null
          id: string
          language_code: string | null
          name: string
          parameter_format: string
          parameter_layout: NonNullable<Json>
          parameters: NonNullable<Json>
          quality_score: string | null
          removed_at: string | null
          status: string
          status_reason: string | null
          synced_at: string | null
          updated_at: string | null
          wa_category: string | null
          wa_template_id: string | null
          wa_template_name: string | null
        }
        Insert: {
          category?: string | null
          components?: NonNullable<Json>
          content: string
          created_at?: string | null
          created_by?: string | null
          id?: string
          language_code?: string | null
          name: string
          parameter_format?: string
          parameter_layout?: NonNullable<Json>
          parameters?: NonNullable<Json>
          quality_score?: string | null
          removed_at?: string | null
          status?: string
          status_reason?: string | null
          synced_at?: string | null
          updated_at?: string | null
          wa_category?: string | null
          wa_template_id?: string | null
          wa_template_name?: string | null
        }
        Update: {
          category?: string | null
          components?: NonNullable<Json>
          content?: string
          created_at?: string | null
          created_by?: string | null
          id?: string
          language_code?: string | null
          name?: string
          parameter_format?: string
          parameter_layout?: NonNullable<Json>
          parameters?: NonNullable<Json>
          quality_score?: string | null
          removed_at?: string | null
          status?: string
          status_reason?: string | null
          synced_at?: string | null
          updated_at?: string | null
          wa_category?: string | null
          wa_template_id?: string | null
          wa_template_name?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "message_templates_created_by_fkey"
            columns: ["created_by"]
            isOneToOne: false
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      messages: {
        Row: {
          content: string | null
          conversation_id: string
          created_at: string | null
          delivered_at: string | null
          error_data: Json | null
          id: string
          media_url: string | null
          message_type: string
          metadata: Json | null
          pricing: Json | null
          read_at: string | null
          reply_to_message_id: string | null
          sender_id: string
          sender_type: string
          status: string
          template_id: string | null
          wa_message_id: string | null
        }
        Insert: {
          content?: string | null
          conversation_id: string
          created_at?: string | null
          delivered_at?: string | null
          error_data?: Json | null
          id?: string
          media_url?: string | null
          message_type: string
          metadata?: Json | null
          pricing?: Json | null
          read_at?: string | null
          reply_to_message_id?: string | null
          sender_id: string
          sender_type: string
          status: string
          template_id?: string | null
          wa_message_id?: string | null
        }
        Update: {
          content?: string | null
          conversation_id?: string
          created_at?: string | null
          delivered_at?: string | null
          error_data?: Json | null
          id?: string
          media_url?: string | null
          message_type?: string
          metadata?: Json | null
          pricing?: Json | null
          read_at?: string | null
          reply_to_message_id?: string | null
          sender_id?: string
          sender_type?: string
          status?: string
          template_id?: string | null
          wa_message_id?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "messages_conversation_id_fkey"
            columns: ["conversation_id"]
            isOneToOne: false
            referencedRelation: "conversations"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "messages_reply_to_message_id_fkey"
            columns: ["reply_to_message_id"]
            isOneToOne: false
            referencedRelation: "messages"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "messages_template_id_fkey"
            columns: ["template_id"]
            isOneToOne: false
            referencedRelation: "message_templates"
            referencedColumns: ["id"]
          },
        ]
      }
      notes: {
        Row: {
          content: string
          conversation_id: string
          created_at: string | null
          created_by: string | null
          deleted_at: string | null
          id: string
          updated_at: string | null
        }
        Insert: {
          content: string
          conversation_id: string
          created_at?: string | null
          created_by?: string | null
          deleted_at?: string | null
          id?: string
          updated_at?: string | null
        }
        Update: {
          content?: string
          conversation_id?: string
          created_at?: string | null
          created_by?: string | null
          deleted_at?: string | null
          id?: string
          updated_at?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "notes_conversation_id_fkey"
            columns: ["conversation_id"]
            isOneToOne: false
            referencedRelation: "conversations"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "notes_created_by_fkey"
            columns: ["created_by"]
            isOneToOne: false
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      users: {
        Row: {
          avatar_url: string | null
          created_at: string | null
          email: string
          full_name: string
          id: string
          last_seen_at: string | null
          phone: string | null
          preferences: Json | null
          role: string
          status: string | null
        }
        Insert: {
          avatar_url?: string | null
          created_at?: string | null
          email: string
          full_name: string
          id?: string
          last_seen_at?: string | null
          phone?: string | null
          preferences?: Json | null
          role: string
          status?: string | null
        }
        Update: {
          avatar_url?: string | null
          created_at?: string | null
          email?: string
          full_name?: string
          id?: string
          last_seen_at?: string | null
          phone?: string | null
          preferences?: Json | null
          role?: string
          status?: string | null
        }
        Relationships: []
      }
    }
    Views: {
      [_ in never]: never
    }
    Functions: {
      billing_by_broadcast: {
        Args: { p_broadcast_id: string }
        Returns: {
          billable: number
          broadcast_id: string
          category: string
          free: number
          unpriced: number
        }[]
      }
      billing_by_day: {
        Args: { p_from: string; p_to: string }
        Returns: {
          billable: number
          category: string
          day: string
          free: number
        }[]
      }
      erase_contact: { Args: { p_contact_id: string }; Returns: Json }
      export_contact: { Args: { p_contact_id: string }; Returns: Json }
      journal_export: { Args: { p_export_id: number }; Returns: Json }
      mark_conversation_read: {
        Args: { p_conversation_id: string }
        Returns: {
          assigned_agent_id: string | null
          contact_id: string
          created_at: string | null
          first_response_time: string | null
          id: string
          last_agent_response_at: string | null
          last_message_at: string | null
          metadata: Json | null
          priority: string | null
          status: string | null
          unread_count: number
        }
        SetofOptions: {
          from: "*"
          to: "conversations"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      media_link: { Args: { p_message_id: string }; Returns: Json }
      media_upload_link: {
        Args: { p_conversation_id: string; p_kind: string }
        Returns: Json
      }
      request_template_sync: {
        Args: Record<PropertyKey, never>
        Returns: number
      }
      search_contacts: {
        Args: { p_limit?: number; p_offset?: number; p_query: string }
        Returns: {
          avatar_url: string | null
          created_at: string | null
          email: string | null
          full_name: string | null
          id: string
          language: string | null
          last_contacted_at: string | null
          location: string | null
          metadata: Json | null
          opted_out_at: string | null
          phone: string | null
          status: string | null
          tags: string[] | null
          timezone: string | null
          wa_id: string | null
          wa_user_id: string | null
        }[]
        SetofOptions: {
          from: "*"
          to: "contacts"
          isOneToOne: false
          isSetofReturn: true
        }
      }
      search_messages: {
        Args: { p_limit?: number; p_offset?: number; p_query: string }
        Returns: {
          content: string | null
          conversation_id: string
          created_at: string | null
          delivered_at: string | null
          error_data: Json | null
          id: string
          media_url: string | null
          message_type: string
          metadata: Json | null
          pricing: Json | null
          read_at: string | null
          reply_to_message_id: string | null
          sender_id: string
          sender_type: string
          status: string
          template_id: string | null
          wa_message_id: string | null
        }[]
        SetofOptions: {
          from: "*"
          to: "messages"
          isOneToOne: false
          isSetofReturn: true
        }
      }
    }
    Enums: {
      [_ in never]: never
    }
    CompositeTypes: {
      [_ in never]: never
    }
  }
}

type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">]

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {
      Row: infer R
    }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] &
        DefaultSchema["Views"])
    ? (DefaultSchema["Tables"] &
        DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
        Row: infer R
      }
      ? R
      : never
    : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Insert: infer I
      }
      ? I
      : never
    : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Update: infer U
      }
      ? U
      : never
    : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends (DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never) = never,
> = DefaultSchemaEnumNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
    : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends (PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never) = never,
> = PublicCompositeTypeNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
    : never

export const Constants = {
  public: {
    Enums: {},
  },
} as const

