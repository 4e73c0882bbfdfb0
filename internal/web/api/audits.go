package api

func (s *Server) auditRoutes() {}
